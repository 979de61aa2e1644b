// The client's behaviours against a small loopback server that answers what each test
// scripts: retries and Retry-After, idempotency keys, pagination, typed errors. No network.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import {
  AuthenticationError,
  HeliographClient,
  NotFoundError,
  RateLimitError,
  ServerError,
  ValidationError,
} from "../dist/index.js";

let server;
let base;
let script = [];
const seen = [];

before(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      seen.push({ method: request.method, url: request.url, headers: request.headers, body });
      const next = script.shift() ?? { status: 500, body: { message: "unscripted" } };
      const headers = { "Content-Type": "application/json", ...(next.headers ?? {}) };
      response.writeHead(next.status, headers);
      response.end(next.raw ?? (next.status === 204 ? "" : JSON.stringify(next.body ?? {})));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

function client(options = {}) {
  seen.length = 0;
  const c = new HeliographClient({ url: base, token: "hg_test", ...options });
  const waits = [];
  c.transport.sleep = async (seconds) => waits.push(seconds);
  return { c, waits };
}

describe("retries", () => {
  test("a 429 is retried after the Retry-After the server asked for", async () => {
    const { c, waits } = client();
    script = [
      { status: 429, headers: { "Retry-After": "2" }, body: { message: "Rate limit exceeded" } },
      { status: 200, body: { id: "heliograph", status_indicator: "none" } },
    ];
    const page = await c.page.get();
    assert.equal(page.id, "heliograph");
    assert.equal(seen.length, 2);
    assert.equal(waits.length, 1);
    assert.ok(waits[0] >= 2 && waits[0] < 2.5, `waited ${waits[0]}`);
    assert.equal(seen[0].headers.authorization, "OAuth hg_test");
  });

  test("the wait is real: Retry-After of a fraction of a second is honoured", async () => {
    seen.length = 0;
    const c = new HeliographClient({ url: base, token: "hg_test" });
    script = [
      { status: 429, headers: { "Retry-After": "0.3" }, body: { message: "slow down" } },
      { status: 200, body: [] },
    ];
    const started = Date.now();
    assert.deepEqual(await c.regions.list().toArray(), []);
    assert.ok(Date.now() - started >= 300, "answered before Retry-After");
  });

  test("a POST keeps one Idempotency-Key across its retries; another call gets another key", async () => {
    const { c, waits } = client();
    script = [
      { status: 503, raw: "<html>bad gateway</html>", headers: { "Content-Type": "text/html" } },
      { status: 201, body: { id: "inc1", name: "Runs not starting" } },
      { status: 201, body: { id: "inc2", name: "Another" } },
    ];
    const created = await c.incidents.create({ name: "Runs not starting", status: "investigating" });
    assert.equal(created.id, "inc1");
    assert.equal(waits.length, 1);
    const [first, second] = seen;
    assert.ok(first.headers["idempotency-key"]);
    assert.equal(first.headers["idempotency-key"], second.headers["idempotency-key"]);
    assert.deepEqual(JSON.parse(first.body), { incident: { name: "Runs not starting", status: "investigating" } });
    await c.incidents.create({ name: "Another" });
    assert.notEqual(seen[2].headers["idempotency-key"], first.headers["idempotency-key"]);
  });

  test("an idempotency key can be given, and turned off", async () => {
    const { c } = client();
    script = [{ status: 200, body: [] }];
    await c.incidents.bulkResolve({ incident_ids: ["a"] }, { idempotencyKey: "my-key" });
    assert.equal(seen[0].headers["idempotency-key"], "my-key");
    const off = client({ idempotencyKeys: false }).c;
    script = [{ status: 200, body: [] }];
    await off.incidents.bulkResolve({ incident_ids: ["a"] });
    assert.equal(seen[0].headers["idempotency-key"], undefined);
  });

  test("a PATCH is not sent again after a 503 (it could add a second update)", async () => {
    const { c } = client();
    script = [{ status: 503, raw: "down", headers: { "Content-Type": "text/plain" } }];
    await assert.rejects(c.incidents.update("inc1", { status: "resolved" }), ServerError);
    assert.equal(seen.length, 1);
  });

  test("a 502 with the API's own error body (a failed channel test) is not retried", async () => {
    const { c } = client();
    script = [{ status: 502, body: { message: "Slack said: channel_not_found" } }];
    await assert.rejects(c.channels.test("7"), (error) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.status, 502);
      assert.equal(error.message, "Slack said: channel_not_found");
      return true;
    });
    assert.equal(seen.length, 1);
  });

  test("retries are bounded: a Retry-After beyond maxRetryAfter, and too many 429s, raise", async () => {
    const { c } = client({ retry: { maxRetryAfter: 10 } });
    script = [{ status: 429, headers: { "Retry-After": "3600" }, body: { message: "later" } }];
    await assert.rejects(c.page.get(), (error) => error instanceof RateLimitError && error.retryAfter === 3600);
    assert.equal(seen.length, 1);
    const many = client({ retry: { maxRetries: 2 } });
    script = Array.from({ length: 3 }, () => ({ status: 429, headers: { "Retry-After": "1" }, body: { message: "no" } }));
    await assert.rejects(many.c.page.get(), RateLimitError);
    assert.equal(seen.length, 3);
    assert.equal(many.waits.length, 2);
  });

  test("backoff grows exponentially with jitter when no Retry-After is given", async () => {
    const { c, waits } = client({ retry: { maxRetries: 3, backoff: 1, maxBackoff: 3 } });
    script = [
      { status: 503, raw: "x", headers: { "Content-Type": "text/plain" } },
      { status: 503, raw: "x", headers: { "Content-Type": "text/plain" } },
      { status: 503, raw: "x", headers: { "Content-Type": "text/plain" } },
      { status: 200, body: { id: "heliograph" } },
    ];
    await c.page.get();
    assert.equal(waits.length, 3);
    assert.ok(waits[0] >= 0.5 && waits[0] <= 1, `first wait ${waits[0]}`);
    assert.ok(waits[1] >= 1 && waits[1] <= 2, `second wait ${waits[1]}`);
    assert.ok(waits[2] >= 1.5 && waits[2] <= 3, `third wait capped: ${waits[2]}`);
  });
});

describe("errors and pagination", () => {
  test("errors carry the status, the API's message and the field errors", async () => {
    const { c } = client();
    script = [
      { status: 422, body: { message: "name: is required.", errors: { name: "is required." } } },
      { status: 404, body: { message: "Unknown incident: nope" } },
      { status: 401, body: { message: "Could not authenticate" } },
    ];
    await assert.rejects(c.incidents.create({ name: "" }), (error) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.status, 422);
      assert.deepEqual(error.errors, { name: "is required." });
      return true;
    });
    await assert.rejects(c.incidents.get("nope"), NotFoundError);
    await assert.rejects(c.page.get(), AuthenticationError);
  });

  test("a list follows Link rel=next on the client's own host", async () => {
    const { c } = client();
    script = [
      {
        status: 200,
        body: [{ id: "a" }, { id: "b" }],
        headers: {
          "X-Total-Count": "3",
          "X-Page": "1",
          "X-Per-Page": "2",
          // The server names itself by another host (behind a proxy): the path and query count.
          Link: '<http://internal:8000/v1/pages/heliograph/components?per_page=2&page=2>; rel="next"',
        },
      },
      { status: 200, body: [{ id: "c" }], headers: { "X-Total-Count": "3", Link: '<http://internal:8000/v1/pages/heliograph/components?per_page=2&page=1>; rel="prev"' } },
    ];
    const ids = [];
    for await (const component of c.components.list({ per_page: 2 })) ids.push(component.id);
    assert.deepEqual(ids, ["a", "b", "c"]);
    assert.equal(seen[0].url, "/v1/pages/heliograph/components?per_page=2");
    assert.equal(seen[1].url, "/v1/pages/heliograph/components?per_page=2&page=2");
    script = [{ status: 200, body: [{ id: "a" }], headers: { "X-Total-Count": "9", "X-Page": "1", "X-Per-Page": "1" } }];
    const page = await c.components.list({ per_page: 1 }).firstPage();
    assert.equal(page.total, 9);
    assert.equal(page.perPage, 1);
  });

  test("the URL may name the API and the page; path ids are escaped", async () => {
    const { c } = client({ url: `${base}/v1/pages/other-page/` });
    script = [{ status: 200, body: { id: "x y" } }];
    await c.incidents.get("x y");
    assert.equal(seen[0].url, "/v1/pages/other-page/incidents/x%20y");
  });
});
