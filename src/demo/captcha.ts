// Captchas for the demo tax portal: random text drawn as distorted stroke glyphs in an SVG.
// Glyphs are paths, not <text>, so the picture does not depend on the fonts of a headless browser
// and the answer does not appear in the SVG source: like a real captcha, it has to be read by a human.

/** Characters a captcha uses: A–Z and 2–9 without the look-alikes I, L, O (0 and 1 are never used). */
export const CAPTCHA_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/** How many characters each captcha has. */
export const CAPTCHA_LENGTH = 5;

type Stroke = readonly (readonly [number, number])[];

// Each glyph is a list of polylines on a 4 × 6 grid (x right, y down).
const GLYPHS: Record<string, readonly Stroke[]> = {
  A: [[[0, 6], [0, 2], [2, 0], [4, 2], [4, 6]], [[0, 3.6], [4, 3.6]]],
  B: [[[0, 0], [0, 6], [3, 6], [4, 5], [4, 4], [3, 3], [0, 3]], [[0, 0], [3, 0], [4, 1], [4, 2], [3, 3]]],
  C: [[[4, 1], [3, 0], [1, 0], [0, 1], [0, 5], [1, 6], [3, 6], [4, 5]]],
  D: [[[0, 0], [0, 6], [2.5, 6], [4, 4.5], [4, 1.5], [2.5, 0], [0, 0]]],
  E: [[[4, 0], [0, 0], [0, 6], [4, 6]], [[0, 3], [3, 3]]],
  F: [[[4, 0], [0, 0], [0, 6]], [[0, 3], [3, 3]]],
  G: [[[4, 1], [3, 0], [1, 0], [0, 1], [0, 5], [1, 6], [3, 6], [4, 5], [4, 3.2], [2.2, 3.2]]],
  H: [[[0, 0], [0, 6]], [[4, 0], [4, 6]], [[0, 3], [4, 3]]],
  J: [[[1, 0], [4, 0]], [[3, 0], [3, 5], [2, 6], [1, 6], [0, 5]]],
  K: [[[0, 0], [0, 6]], [[4, 0], [0, 3.6]], [[1.4, 2.5], [4, 6]]],
  M: [[[0, 6], [0, 0], [2, 3.2], [4, 0], [4, 6]]],
  N: [[[0, 6], [0, 0], [4, 6], [4, 0]]],
  P: [[[0, 6], [0, 0], [3, 0], [4, 1], [4, 2], [3, 3], [0, 3]]],
  Q: [[[1, 0], [3, 0], [4, 1], [4, 5], [3, 6], [1, 6], [0, 5], [0, 1], [1, 0]], [[2.4, 4.3], [4.2, 6.3]]],
  R: [[[0, 6], [0, 0], [3, 0], [4, 1], [4, 2], [3, 3], [0, 3]], [[2, 3], [4, 6]]],
  S: [[[4, 1], [3, 0], [1, 0], [0, 1], [0, 2], [1, 3], [3, 3], [4, 4], [4, 5], [3, 6], [1, 6], [0, 5]]],
  T: [[[0, 0], [4, 0]], [[2, 0], [2, 6]]],
  U: [[[0, 0], [0, 5], [1, 6], [3, 6], [4, 5], [4, 0]]],
  V: [[[0, 0], [2, 6], [4, 0]]],
  W: [[[0, 0], [1, 6], [2, 2.5], [3, 6], [4, 0]]],
  X: [[[0, 0], [4, 6]], [[4, 0], [0, 6]]],
  Y: [[[0, 0], [2, 3], [4, 0]], [[2, 3], [2, 6]]],
  Z: [[[0, 0], [4, 0], [0, 6], [4, 6]]],
  "2": [[[0, 1], [1, 0], [3, 0], [4, 1], [4, 2], [0, 6], [4, 6]]],
  "3": [[[0, 1], [1, 0], [3, 0], [4, 1], [4, 2], [3, 3], [1.5, 3]], [[3, 3], [4, 4], [4, 5], [3, 6], [1, 6], [
    0,
    5,
  ]]],
  "4": [[[3, 6], [3, 0], [0, 4], [4, 4]]],
  "5": [[[4, 0], [0, 0], [0, 3], [3, 3], [4, 4], [4, 5], [3, 6], [1, 6], [0, 5]]],
  "6": [[[4, 1], [3, 0], [1, 0], [0, 1], [0, 5], [1, 6], [3, 6], [4, 5], [4, 4], [3, 3], [0, 3]]],
  "7": [[[0, 0], [4, 0], [1.5, 6]]],
  "8": [[
    [1, 3],
    [0, 2],
    [0, 1],
    [1, 0],
    [3, 0],
    [4, 1],
    [4, 2],
    [3, 3],
    [1, 3],
    [0, 4],
    [0, 5],
    [1, 6],
    [3, 6],
    [
      4,
      5,
    ],
    [4, 4],
    [3, 3],
  ]],
  "9": [[[4, 3], [1, 3], [0, 2], [0, 1], [1, 0], [3, 0], [4, 1], [4, 5], [3, 6], [1, 6], [0, 5]]],
};

/** Width and height of a captcha image, in pixels. */
export const CAPTCHA_SIZE = { width: 200, height: 80 } as const;

const WIDTH = CAPTCHA_SIZE.width;
const HEIGHT = CAPTCHA_SIZE.height;
const UNIT = 6; // pixels per glyph grid unit: glyphs are 24 × 36 px before distortion

/** A random captcha answer of `CAPTCHA_LENGTH` characters from `CAPTCHA_ALPHABET`. */
export function randomCaptchaText(): string {
  const picks = crypto.getRandomValues(new Uint32Array(CAPTCHA_LENGTH));
  return Array.from(picks, (n) => CAPTCHA_ALPHABET[n % CAPTCHA_ALPHABET.length]).join("");
}

function between(min: number, max: number): number {
  return min + Math.random() * (max - min);
}

function round(n: number): string {
  return n.toFixed(1);
}

/** Draws `text` as a distorted SVG captcha (rotated, skewed, jittered glyphs over noise). */
export function captchaSvg(text: string): string {
  const parts: string[] = [];
  for (let i = 0; i < 40; i++) {
    const grey = Math.round(between(120, 200));
    parts.push(
      `<circle cx="${round(between(0, WIDTH))}" cy="${round(between(0, HEIGHT))}" r="${
        round(between(0.8, 2.2))
      }" fill="rgb(${grey},${grey},${grey})"/>`,
    );
  }
  for (let i = 0; i < 3; i++) {
    parts.push(
      `<path d="M0 ${round(between(HEIGHT * 0.15, HEIGHT * 0.85))} C${
        round(between(WIDTH * 0.15, WIDTH * 0.4))
      } ${round(between(0, HEIGHT))} ${round(between(WIDTH * 0.6, WIDTH * 0.85))} ${
        round(between(0, HEIGHT))
      } ${WIDTH} ${round(between(HEIGHT * 0.15, HEIGHT * 0.85))}" stroke="hsl(${
        Math.round(between(0, 360))
      },30%,55%)" stroke-width="1.4" fill="none"/>`,
    );
  }
  [...text].forEach((ch, i) => {
    const glyph = GLYPHS[ch];
    if (!glyph) throw new RangeError(`Cannot draw captcha: no glyph for "${ch}"`);
    const d = glyph.map((stroke) =>
      stroke.map(([x, y], k) =>
        `${k === 0 ? "M" : "L"}${round((x + between(-0.3, 0.3)) * UNIT)} ${
          round((y + between(-0.3, 0.3)) * UNIT)
        }`
      ).join(" ")
    ).join(" ");
    const x = 16 + i * 34 + between(-3, 3);
    const y = 22 + between(-4, 4);
    const transform = `translate(${round(x)} ${round(y)}) rotate(${round(between(-22, 22))} 12 18) skewX(${
      round(between(-14, 14))
    }) scale(${round(between(0.9, 1.12))})`;
    const colour = `hsl(${Math.round(between(0, 360))},65%,${Math.round(between(18, 32))}%)`;
    parts.push(
      `<path d="${d}" transform="${transform}" stroke="${colour}" stroke-width="3.4" stroke-linecap="round" stroke-linejoin="round" fill="none"/>`,
    );
  });
  parts.push(
    `<path d="M4 ${round(between(HEIGHT * 0.4, HEIGHT * 0.62))} Q${WIDTH / 2} ${
      round(between(HEIGHT * 0.15, HEIGHT * 0.85))
    } ${WIDTH - 4} ${
      round(between(HEIGHT * 0.4, HEIGHT * 0.62))
    }" stroke="#333" stroke-width="1.6" fill="none"/>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">` +
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#f3efe4"/>${parts.join("")}</svg>`;
}
