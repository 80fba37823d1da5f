/** readLegacyFields: the one rule by which every old client's route reads its fields (body over query). */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { BadRequestError } from "../src/errors.ts";
import { readLegacyFields } from "../src/http_legacy.ts";

/** An app whose every route answers the fields a, b and c as readLegacyFields reads them. */
function echo() {
  return new Hono().on(["GET", "POST", "PUT"], "/", async (c) => {
    try {
      return c.json({ fields: await readLegacyFields(c, ["a", "b", "c"]) });
    } catch (err) {
      return c.json(
        { badRequest: err instanceof BadRequestError, status: (err as BadRequestError).status },
        400,
      );
    }
  });
}

async function read(path: string, init?: RequestInit) {
  return (await (await echo().request(path, init)).json());
}

Deno.test("readLegacyFields takes a form field over the same field in the query, and the rest from the query", async () => {
  const body = new URLSearchParams({ a: "form", b: "form" });
  const urlencoded = await read("/?a=query&c=query", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  assert.deepEqual(urlencoded.fields, { a: "form", b: "form", c: "query" });
  const multipart = new FormData();
  multipart.set("a", "form");
  const mp = await read("/?a=query&b=query", { method: "POST", body: multipart });
  assert.deepEqual(mp.fields, { a: "form", b: "query" });
});

Deno.test("readLegacyFields takes a JSON member over the same query field, JSON values as they are", async () => {
  const res = await read("/?a=query&b=query", {
    method: "PUT",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ a: ["x", "y"], c: 7 }),
  });
  assert.deepEqual(res.fields, { a: ["x", "y"], b: "query", c: 7 });
});

Deno.test("readLegacyFields reads no body on GET, ignores form files, and a JSON body that is no object has no fields", async () => {
  assert.deepEqual((await read("/?a=1")).fields, { a: "1" });
  const withFile = new FormData();
  withFile.set("a", new File(["bytes"], "a.bin"));
  assert.deepEqual((await read("/?a=query", { method: "POST", body: withFile })).fields, { a: "query" });
  const array = await read("/?b=query", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "[1,2]",
  });
  assert.deepEqual(array.fields, { b: "query" });
  const text = await read("/?c=query", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "a=1",
  });
  assert.deepEqual(text.fields, { c: "query" });
});

Deno.test("readLegacyFields refuses malformed JSON with a 400", async () => {
  const res = await read("/", { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
  assert.deepEqual(res, { badRequest: true, status: 400 });
});
