// A minimal PNG encoder (8-bit RGB, no interlace) and the registry's generated inspection photos.
// The photos are drawn here, deterministically per plate and index, so the demo ships no image files.
// Format: https://www.w3.org/TR/png-3/ (signature, IHDR, IDAT zlib stream, IEND; CRC-32 per chunk).

import { deflateSync } from "node:zlib";

/** The 8 bytes every PNG file starts with. */
export const PNG_SIGNATURE: Uint8Array = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes `rgb` (width × height × 3 bytes, row-major) as a PNG file. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`Cannot encode PNG: expected ${width * height * 3} RGB bytes, got ${rgb.length}`);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, adaptive filters, no interlace
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 3)] = 0; // filter type "None" for every scanline
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  }
  const parts = [
    PNG_SIGNATURE,
    chunk("IHDR", header),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function hash(text: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (const ch of new TextEncoder().encode(text)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h;
}

function hsl(hue: number, saturation: number, lightness: number): [number, number, number] {
  const a = saturation * Math.min(lightness, 1 - lightness);
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** Width and height of every inspection photo, in pixels. */
export const PHOTO_SIZE = { width: 320, height: 240 } as const;

/** Draws inspection photo `index` of `plate`: a car on a test lane; the same inputs give the same bytes. */
export function inspectionPhoto(plate: string, index: number): Uint8Array {
  const { width, height } = PHOTO_SIZE;
  const seed = hash(`${plate}/${index}`);
  const sky = hsl(seed % 360, 0.45, 0.72);
  const body = hsl(hash(plate) % 360, 0.6, 0.38);
  const rgb = new Uint8Array(width * height * 3);
  const horizon = 150;
  const carLeft = 50 + (seed % 40) + index * 10;
  const carRight = carLeft + 170;
  const wheels = [carLeft + 35, carRight - 35];
  const set = (x: number, y: number, c: readonly number[]) => rgb.set(c, (y * width + x) * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c: readonly number[];
      if (y < horizon) {
        const shade = 1 - (y / horizon) * 0.35; // lighter towards the horizon
        c = sky.map((v) => Math.min(255, Math.round(v / shade)));
      } else {
        const stripe = y > 205 && y < 211 && Math.floor(x / 24) % 2 === 0; // lane marking
        const tile = ((x >> 3) + (y >> 3)) % 2 === 0 ? 92 : 84; // concrete floor of the inspection lane
        c = stripe ? [235, 220, 90] : [tile, tile, tile + 4];
      }
      const inBody = x >= carLeft && x < carRight && y >= 135 && y < 180;
      const cabinInset = Math.max(0, 115 - y);
      const inCabin = y >= 105 && y < 135 && x >= carLeft + 30 + cabinInset &&
        x < carRight - 40 - cabinInset;
      if (inBody || inCabin) c = body;
      if (inCabin && y > 110 && x > carLeft + 36 + cabinInset && x < carRight - 46 - cabinInset) {
        c = [170, 200, 220]; // windows
      }
      if (y >= 160 && y < 172 && x >= carRight - 50 && x < carRight - 14) c = [245, 245, 245]; // number plate
      for (const wx of wheels) {
        const d = Math.hypot(x - wx, y - 180);
        if (d < 20) c = d < 9 ? [180, 180, 185] : [25, 25, 28];
      }
      set(x, y, c);
    }
  }
  return encodePng(width, height, rgb);
}
