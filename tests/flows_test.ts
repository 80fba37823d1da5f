import assert from "node:assert/strict";
import { FlowError } from "../src/automation/flow.ts";
import { apiAccess, builtinFlows, examBooking, vehicleLookup } from "../src/automation/flows/mod.ts";
import {
  type Answerer,
  approveQrAfter,
  type DemoServer,
  distinctImages,
  type FlowRecord,
  launchBrowser,
  type RecordedPrompt,
  runFlow,
  serveDemo,
  until,
  untilClosed,
} from "./flow_harness.ts";

const DEMO = { username: "demo", password: "demo" };
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

function assertFlowError(record: FlowRecord, step: string, message: RegExp | string): FlowError {
  assert.ok(record.error instanceof FlowError, `expected a FlowError, got ${record.error}`);
  assert.equal(record.error.step, step);
  if (typeof message === "string") assert.equal(record.error.message, message);
  else assert.match(record.error.message, message);
  return record.error;
}

/** Dispatches prompts by kind; a kind the test did not expect fails the run. */
function answers(by: Partial<Record<RecordedPrompt["spec"]["kind"], Answerer>>): Answerer {
  return (prompt, record) => {
    const answer = by[prompt.spec.kind];
    if (!answer) return Promise.reject(new Error(`unexpected ${prompt.spec.kind} prompt`));
    return answer(prompt, record);
  };
}

/**
 * Every QR refresh the page fetched while the prompt was open reached the prompt as a frame (the page
 * refreshes its QR every second, so this is the "at least once a second" rule, counted by events).
 */
function assertEveryRefreshForwarded(prompt: RecordedPrompt, portal: DemoServer): void {
  assert.ok(prompt.closedAt !== undefined, "the flow closed the QR prompt");
  const refreshes = portal.qrPolls.filter((at) => at > prompt.openedAt && at < prompt.closedAt!).length;
  assert.ok(refreshes >= 2, `the page refreshed its QR ${refreshes} times while the prompt was open`);
  assert.ok(
    prompt.images.length >= refreshes,
    `${prompt.images.length} QR images for ${refreshes} page refreshes (the first image is the prompt's own)`,
  );
}

function statuses(record: FlowRecord): unknown[] {
  return record.progress.filter((p) => p.key === "status").map((p) => p.value);
}

Deno.test("builtinFlows lists vehicle-lookup, api-access and exam-booking with distinct names", () => {
  assert.deepEqual(builtinFlows.map((f) => f.name), ["vehicle-lookup", "api-access", "exam-booking"]);
  for (const flow of builtinFlows) {
    assert.ok(flow.title.length > 0 && flow.description.length > 0, flow.name);
  }
});

Deno.test("vehicle-lookup input normalises the plate and refuses anything but 2–10 letters, digits, spaces, dashes", () => {
  assert.deepEqual(vehicleLookup.input.parse({ plate: " abc-123 " }), { plate: "ABC123" });
  assert.deepEqual(vehicleLookup.input.parse({ plate: "xy 7" }), { plate: "XY7" });
  for (const plate of ["A", "ABCDEFGHIJK", "ABC_123", "ÁBC123", "--", "", 123]) {
    assert.equal(vehicleLookup.input.safeParse({ plate }).success, false, String(plate));
  }
  assert.equal(vehicleLookup.input.safeParse({}).success, false);
});

Deno.test("exam-booking input checks shapes only: non-empty strings and at least one location", () => {
  const ok = { license_type: "C", exam_type: "anything", locations: ["Nowhere"] };
  assert.deepEqual(examBooking.input.parse(ok), ok);
  assert.deepEqual(examBooking.input.parse({ ...ok, choose: true }), { ...ok, choose: true });
  for (
    const bad of [{ ...ok, locations: [] }, { ...ok, locations: [""] }, { ...ok, license_type: "" }, {
      ...ok,
      exam_type: undefined,
    }, { ...ok, choose: "yes" }]
  ) {
    assert.equal(examBooking.input.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

Deno.test("api-access input is an empty object or optional username and password", () => {
  assert.deepEqual(apiAccess.input.parse({}), {});
  assert.deepEqual(apiAccess.input.parse({ username: "u", password: "p" }), { username: "u", password: "p" });
  assert.equal(apiAccess.input.safeParse({ password: "" }).success, false);
});

Deno.test("built-in flows run end to end in Chromium against the demo portal", async (t) => {
  await using browser = await launchBrowser();

  await t.step(
    "vehicle-lookup ABC123 logs in, re-asks a wrong SMS code, streams every data item and saves PNG photos",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, vehicleLookup, {
        input: { plate: "abc 123" },
        portalUrl: portal.url,
        secrets: DEMO,
        answer: answers({
          code: async (prompt) => prompt.spec.error ? (await portal.debug()).sms.at(-1)!.code : "000000",
        }),
      });
      assert.equal(record.error, undefined, String(record.error));

      const [first, second, ...rest] = record.prompts;
      assert.equal(rest.length, 0);
      assert.equal(first.spec.kind, "code");
      assert.equal(first.spec.message, "We sent a code to +36 20 *** 4567");
      assert.equal(first.spec.error, undefined);
      assert.equal(second.spec.kind, "code");
      assert.equal(second.spec.error, "Invalid code");

      const items = record.progress.filter((p) => p.key !== undefined);
      assert.deepEqual(items.find((p) => p.key === "brand")?.value, "BENTLEY");
      assert.deepEqual(items.find((p) => p.key === "model")?.value, "CONTINENTAL GT");
      assert.deepEqual(items.find((p) => p.key === "vin")?.value, "SCBFF63W3EC012345");
      assert.deepEqual(items.find((p) => p.key === "odometer.2022-05-30")?.value, "129870");
      assert.deepEqual(
        items.find((p) => p.key === "accident.2019-11-03")?.value,
        "Front bumper and headlight damage, repaired",
      );
      assert.ok(items.some((p) => p.key === "restriction.alienation_ban"));
      assert.equal(items.length, 4 + 7 + 4 + 1 + 1);
      const percentages = record.progress.map((p) => p.percentage);
      assert.deepEqual(percentages, [...percentages].sort((a, b) => a - b), "progress never goes back");
      assert.ok(percentages.every((p) => p >= 0 && p < 100));

      assert.deepEqual([...record.artifacts.keys()], ["photo-1.png", "photo-2.png", "photo-3.png"]);
      for (const [name, { bytes, contentType }] of record.artifacts) {
        assert.equal(contentType, "image/png", name);
        assert.ok(isPng(bytes) && bytes.length > 1000, `${name} is a real PNG`);
      }
      assert.notDeepEqual(
        record.artifacts.get("photo-1.png")!.bytes,
        record.artifacts.get("photo-2.png")!.bytes,
      );

      assert.deepEqual(record.result, {
        plate: "ABC123",
        registration: {
          plate: "ABC123",
          vin: "SCBFF63W3EC012345",
          first_registration: "2014-06-12",
          status: "Active",
        },
        specs: {
          brand: "BENTLEY",
          model: "CONTINENTAL GT",
          color: "BLACK",
          fuel: "Petrol",
          engine_cc: "5998",
          power_kw: "423",
          seats: "4",
        },
        odometer: [
          { date: "2016-06-10", km: 41230 },
          { date: "2018-06-05", km: 78911 },
          { date: "2020-06-02", km: 104552 },
          { date: "2022-05-30", km: 129870 },
        ],
        accidents: [{ date: "2019-11-03", description: "Front bumper and headlight damage, repaired" }],
        restrictions: { alienation_ban: "Alienation and encumbrance ban in favour of Merkantil Bank" },
        photos: ["photo-1.png", "photo-2.png", "photo-3.png"],
      });
    },
  );

  await t.step(
    "vehicle-lookup asks for credentials without secrets, re-asks refused ones, and fails ZZZ999 at search",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, vehicleLookup, {
        input: { plate: "ZZZ999" },
        portalUrl: portal.url,
        answer: answers({
          credentials: (prompt) => Promise.resolve(prompt.spec.error ? DEMO : { ...DEMO, password: "nope" }),
          code: async () => (await portal.debug()).sms.at(-1)!.code,
        }),
      });
      assertFlowError(record, "search", "No vehicle found with plate ZZZ999");
      assert.deepEqual(record.prompts.map((p) => [p.spec.kind, p.spec.error]), [
        ["credentials", undefined],
        ["credentials", "Invalid username or password"],
        ["code", undefined],
      ]);
      assert.deepEqual(record.prompts[0].spec.fields?.map((f) => [f.name, f.type ?? "text"]), [
        ["username", "text"],
        ["password", "password"],
      ]);
      assert.equal(record.artifacts.size, 0);
    },
  );

  await t.step(
    "vehicle-lookup fails at 2fa when the registry locks the login after 5 wrong codes",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, vehicleLookup, {
        input: { plate: "ABC123" },
        portalUrl: portal.url,
        secrets: DEMO,
        answer: answers({ code: () => Promise.resolve("000000") }),
      });
      assertFlowError(
        record,
        "2fa",
        "The vehicle registry refused the SMS code: Too many wrong codes, please log in again",
      );
      assert.deepEqual(record.prompts.map((p) => p.spec.error), [
        undefined,
        "Invalid code",
        "Invalid code",
        "Invalid code",
        "Invalid code",
      ]);
    },
  );

  await t.step(
    "vehicle-lookup fails at login when the server-side credentials are refused, without asking",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, vehicleLookup, {
        input: { plate: "ABC123" },
        portalUrl: portal.url,
        secrets: { username: "demo", password: "wrong" },
      });
      assertFlowError(record, "login", "Cannot log in to the vehicle registry: Invalid username or password");
      assert.equal(record.prompts.length, 0);
      assert.equal((await portal.debug()).sms.length, 0);
    },
  );

  await t.step(
    "api-access asks again after a wrong captcha, with the portal's error and a new image, then enables API access",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, apiAccess, {
        input: {},
        portalUrl: portal.url,
        secrets: DEMO,
        answer: answers({
          captcha: async (prompt) =>
            prompt.spec.error
              ? { captcha: (await portal.debug()).captchas.at(-1)!.answer.toLowerCase() }
              : "22222",
        }),
      });
      assert.equal(record.error, undefined, String(record.error));
      const [first, second, ...rest] = record.prompts;
      assert.equal(rest.length, 0);
      for (const prompt of [first, second]) {
        assert.equal(prompt.spec.kind, "captcha");
        assert.deepEqual(prompt.spec.fields?.map((f) => f.name), ["captcha"]);
        assert.ok(prompt.spec.image && isPng(prompt.spec.image), "the captcha is shown as a PNG");
      }
      assert.equal(first.spec.error, undefined);
      assert.equal(second.spec.error, "Invalid captcha");
      assert.notDeepEqual(first.spec.image, second.spec.image, "a new captcha after a failure");
      const result = record.result as { message: string; reference: string };
      assert.equal(result.message, "API access enabled for demo");
      assert.match(result.reference, /^GST-\d{10}$/);
    },
  );

  await t.step(
    "api-access asks for username and password with the captcha when none are configured",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, apiAccess, {
        input: {},
        portalUrl: portal.url,
        answer: answers({
          captcha: async () => ({ captcha: (await portal.debug()).captchas.at(-1)!.answer, ...DEMO }),
        }),
      });
      assert.equal(record.error, undefined, String(record.error));
      assert.equal(record.prompts.length, 1);
      assert.deepEqual(record.prompts[0].spec.fields?.map((f) => [f.name, f.type ?? "text"]), [
        ["captcha", "text"],
        ["username", "text"],
        ["password", "password"],
      ]);
      assert.match((record.result as { reference: string }).reference, /^GST-\d{10}$/);
    },
  );

  await t.step("api-access fails at login when the password given in the input is refused", async () => {
    await using portal = serveDemo();
    const record = await runFlow(browser, apiAccess, {
      input: { username: "demo", password: "wrong" },
      portalUrl: portal.url,
      answer: answers({ captcha: async () => (await portal.debug()).captchas.at(-1)!.answer }),
    });
    assertFlowError(record, "login", "Cannot log in to the tax portal: Invalid username or password");
    assert.equal(record.prompts.length, 1);
  });

  await t.step(
    "api-access fails at login when the portal session expired while the human read the captcha",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, apiAccess, {
        input: {},
        portalUrl: portal.url,
        secrets: DEMO,
        answer: answers({
          captcha: async () => {
            portal.advance(4 * 60_000 + 1_000); // the tax portal's 4-minute session
            return (await portal.debug()).captchas.at(-1)!.answer;
          },
        }),
      });
      assertFlowError(record, "login", "The tax portal session expired: Session expired");
    },
  );

  await t.step("api-access gives up at login after 5 wrong captchas", async () => {
    await using portal = serveDemo();
    const record = await runFlow(browser, apiAccess, {
      input: {},
      portalUrl: portal.url,
      secrets: DEMO,
      answer: answers({ captcha: () => Promise.resolve("22222") }),
    });
    assertFlowError(record, "login", "Cannot log in to the tax portal after 5 attempts: Invalid captcha");
    assert.equal(record.prompts.length, 5);
  });

  await t.step(
    "exam-booking streams the BankID QR at ≥ 1 image/s, reports the statuses in order and books the earliest slot",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, examBooking, {
        input: { license_type: "B", exam_type: "driving", locations: ["Stockholm", "Göteborg"] },
        portalUrl: portal.url,
        answer: answers({ qr: approveQrAfter(portal, 3) }),
      });
      assert.equal(record.error, undefined, String(record.error));
      assert.deepEqual(statuses(record), [
        "starting",
        "navigating",
        "login",
        "bankid",
        "qr_waiting",
        "authenticated",
        "configuring",
        "locations",
        "searching",
        "booking",
        "completed",
      ]);

      const [qr, ...rest] = record.prompts;
      assert.equal(rest.length, 0);
      assert.equal(qr.spec.kind, "qr");
      assert.equal(qr.spec.message, "Scan the QR code with BankID");
      assert.ok(qr.spec.image && isPng(qr.spec.image));
      assert.ok(distinctImages(qr) >= 3, `${distinctImages(qr)} distinct QR images`);
      assert.ok(qr.images.every((i) => isPng(i.png)));
      assertEveryRefreshForwarded(qr, portal);

      const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
      const booking = record.result as Record<string, string>;
      assert.deepEqual(Object.keys(booking).sort(), ["booking_id", "date", "location", "time"]);
      assert.match(booking.booking_id, /^TV\d{9}$/);
      // The demo's earliest slot across Stockholm (days 2, 4, 9) and Göteborg (1, 5, 8) is in Göteborg tomorrow.
      assert.deepEqual({ ...booking, booking_id: "" }, {
        booking_id: "",
        location: "Göteborg",
        date: tomorrow,
        time: "13:40",
      });
    },
  );

  await t.step(
    "exam-booking re-sends the QR at least once a second while the page's code stays the same",
    async () => {
      await using portal = serveDemo();
      portal.freeze(); // the demo's QR text changes with its clock's second
      const record = await runFlow(browser, examBooking, {
        input: { license_type: "B", exam_type: "driving", locations: ["Uppsala"] },
        portalUrl: portal.url,
        answer: answers({
          qr: async (prompt) => {
            await until(() => prompt.images.length >= 3, { signal: prompt.signal, what: "3 QR images" });
            await portal.approveQr();
            return "approved";
          },
        }),
      });
      assert.equal(record.error, undefined, String(record.error));
      const qr = record.prompts[0];
      assert.equal(distinctImages(qr), 1);
      assertEveryRefreshForwarded(qr, portal);
    },
  );

  await t.step(
    "exam-booking with choose: true books the slot the human picks from a choice prompt",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, examBooking, {
        input: { license_type: "B", exam_type: "theory", locations: ["Uppsala"], choose: true },
        portalUrl: portal.url,
        answer: answers({
          qr: approveQrAfter(portal, 1),
          choice: (prompt) =>
            Promise.resolve(prompt.spec.error ? prompt.spec.options!.at(-1)!.value : "no-such-slot"),
        }),
      });
      assert.equal(record.error, undefined, String(record.error));
      const choices = record.prompts.filter((p) => p.spec.kind === "choice");
      assert.deepEqual(choices.map((p) => p.spec.error), [undefined, "Choose one of the listed slots"]);
      const options = choices[0].spec.options!;
      assert.equal(options.length, 2);
      assert.ok(options.every((o) => o.label.startsWith("Uppsala, ")), JSON.stringify(options));
      const last = options.at(-1)!;
      const booking = record.result as Record<string, string>;
      assert.equal(booking.location, "Uppsala");
      assert.equal(`Uppsala, ${booking.date} ${booking.time}`, last.label);
      assert.deepEqual(statuses(record).slice(-3), ["searching", "booking", "completed"]);
    },
  );

  await t.step("exam-booking fails at configuring for a license type the portal does not offer", async () => {
    await using portal = serveDemo();
    const record = await runFlow(browser, examBooking, {
      input: { license_type: "C", exam_type: "driving", locations: ["Uppsala"] },
      portalUrl: portal.url,
      answer: answers({ qr: approveQrAfter(portal, 1) }),
    });
    assertFlowError(record, "configuring", "Unknown license type C (the portal offers B)");
    assert.equal(statuses(record).at(-1), "configuring");
  });

  await t.step(
    "exam-booking fails at bankid when BankID times out on the page, and closes the QR prompt",
    async () => {
      await using portal = serveDemo();
      const record = await runFlow(browser, examBooking, {
        input: { license_type: "B", exam_type: "driving", locations: ["Uppsala"] },
        portalUrl: portal.url,
        answer: answers({
          qr: (prompt) => {
            portal.advance(121_000); // the portal's 120 s BankID window passes
            return untilClosed(prompt);
          },
        }),
      });
      assertFlowError(record, "bankid", "BankID timed out");
      assert.ok(record.prompts[0].closedAt !== undefined);
      assert.equal(statuses(record).at(-1), "qr_waiting");
    },
  );

  await t.step(
    "exam-booking stops at once when the session is cancelled while waiting for BankID",
    async () => {
      await using portal = serveDemo();
      const cancel = new AbortController();
      let cancelledAt = 0;
      const record = await runFlow(browser, examBooking, {
        input: { license_type: "B", exam_type: "driving", locations: ["Uppsala"] },
        portalUrl: portal.url,
        signal: cancel.signal,
        answer: answers({
          qr: (prompt) => {
            cancelledAt = performance.now();
            cancel.abort(new DOMException("Session cancelled", "AbortError"));
            return untilClosed(prompt);
          },
        }),
      });
      assert.ok(record.error instanceof Error && record.error.name === "AbortError", String(record.error));
      assert.ok(!(record.error instanceof FlowError));
      // Stopped at once: at most the frame already being captured arrives after the cancel, while the
      // page went on refreshing its QR until the harness closed it.
      const late = record.prompts[0].images.filter((i) => i.at > cancelledAt).length;
      assert.ok(late <= 1, `${late} QR frames after the cancel`);
      assert.equal((await portal.debug()).qr[0].approved, false);
    },
  );
});
