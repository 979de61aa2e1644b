// Against a running Heliograph: HELIOGRAPH_URL and HELIOGRAPH_TOKEN (a token with every
// scope) name it. tests/sdk/test_sdk_typescript.py runs this file against the Django live
// server with a small catalogue (run-execution in us-east-1 and eu-central-1, and the metric
// queue-depth-us-east-1) and then checks the database; without the variables it is skipped,
// and that test fails on a skip.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  AuthenticationError,
  HeliographClient,
  NotFoundError,
  ValidationError,
} from "../dist/index.js";

const live = Boolean(process.env.HELIOGRAPH_URL && process.env.HELIOGRAPH_TOKEN);
const skip = live ? false : "HELIOGRAPH_URL and HELIOGRAPH_TOKEN are not set";

/** The component id of SERVICE@REGION, from the services list (slugs and region slugs). */
async function componentOf(client, serviceSlug, regionSlug) {
  for await (const service of client.services.list()) {
    if (service.slug !== serviceSlug) continue;
    const regional = service.components.filter((c) => c.group_id);
    const index = service.regions.indexOf(regionSlug);
    if (index >= 0) return regional[index].id;
  }
  throw new Error(`no ${serviceSlug}@${regionSlug}`);
}

test("declare, update and resolve an incident; the page shows it while it is open", { skip }, async () => {
  const client = new HeliographClient(); // from HELIOGRAPH_URL / HELIOGRAPH_TOKEN
  const runsUs = await componentOf(client, "run-execution", "us-east-1");
  const declared = await client.incidents.create({
    name: "Runs not starting in us-east-1",
    status: "investigating",
    body: "Investigating",
    components: { [runsUs]: "major_outage" },
  });
  assert.equal(declared.status, "investigating");
  assert.equal(declared.impact, "critical");

  const open = await client.incidents.listUnresolved().toArray();
  assert.ok(open.some((i) => i.id === declared.id));
  const publicPage = await (await fetch(`${process.env.HELIOGRAPH_URL}/api/v2/incidents/unresolved.json`)).json();
  assert.ok(publicPage.incidents.some((i) => i.id === declared.id && i.name === "Runs not starting in us-east-1"));
  assert.equal((await client.components.get(runsUs)).status, "major_outage");

  const updated = await client.incidents.update(declared.id, { status: "identified", body: "A bad deploy; rolling back." });
  assert.equal(updated.incident_updates.length, 2);
  const resolved = await client.incidents.update(declared.id, { status: "resolved", body: "Runs start again." });
  assert.equal(resolved.status, "resolved");
  assert.equal((await client.components.get(runsUs)).status, "operational");
  assert.ok(!(await client.incidents.listUnresolved().toArray()).some((i) => i.id === declared.id));
});

test("bulk status by region, a metric point, and a list read page by page", { skip }, async () => {
  const client = new HeliographClient();
  const bulk = await client.components.bulkStatus({ status: "degraded_performance", region: "eu-central-1", reason: "AZ power loss" });
  assert.ok(bulk.matched >= 1);
  assert.ok(bulk.components.every((c) => c.status === "degraded_performance"));
  const point = await client.metrics.push("queue-depth-us-east-1", { timestamp: new Date().toISOString(), value: 125000 });
  assert.equal(point.recorded, 1);

  const everything = await client.components.list().toArray();
  const pages = [];
  for await (const page of client.components.list({ per_page: 1 }).pages()) pages.push(page);
  assert.equal(pages.length, everything.length);
  assert.equal(pages[0].total, everything.length);
  assert.deepEqual(pages.flatMap((p) => p.items.map((c) => c.id)), everything.map((c) => c.id));
});

test("errors: 404, 422 with the field, 401", { skip }, async () => {
  const client = new HeliographClient();
  await assert.rejects(client.incidents.get("nope"), NotFoundError);
  await assert.rejects(client.incidents.create({ name: "" }), (error) => {
    assert.ok(error instanceof ValidationError);
    assert.equal(error.status, 422);
    assert.ok("name" in error.errors, JSON.stringify(error.errors));
    return true;
  });
  const stranger = new HeliographClient({ token: "hg_not_a_token" });
  await assert.rejects(stranger.page.get(), AuthenticationError);
});
