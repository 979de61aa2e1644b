// Declare an incident from Node, naming components as SERVICE@REGION=STATUS:
//
//   HELIOGRAPH_URL=http://localhost:8000 HELIOGRAPH_TOKEN=hg_… \
//     node examples/declare.mjs "Runs not starting in us-east-1" \
//     run-execution@us-east-1=major_outage "Investigating"
//
// (after `npm ci && npm run build` in sdk/typescript).
import { HeliographClient, HeliographError } from "@heliograph/client";

const [name, spec, message] = process.argv.slice(2);
if (!name || !spec) {
  console.error("usage: node examples/declare.mjs NAME SERVICE@REGION=STATUS [MESSAGE]");
  process.exit(2);
}

const client = new HeliographClient(); // HELIOGRAPH_URL, HELIOGRAPH_TOKEN

/** The component id of SERVICE@REGION (or SERVICE for a global service). */
async function componentOf(target) {
  const [serviceSlug, regionSlug] = target.split("@");
  for await (const service of client.services.list()) {
    if (service.slug !== serviceSlug) continue;
    if (!regionSlug) return service.components.find((c) => !c.group_id)?.id;
    const regional = service.components.filter((c) => c.group_id);
    return regional[service.regions.indexOf(regionSlug)]?.id;
  }
  return undefined;
}

try {
  const [target, status] = spec.split("=");
  const id = await componentOf(target);
  if (!id) {
    console.error(`No component ${target}`);
    process.exit(4);
  }
  const incident = await client.incidents.create({
    name,
    status: "investigating",
    body: message,
    components: { [id]: status ?? "major_outage" },
  });
  console.log(`Declared ${incident.id}: ${incident.name} (${incident.status}, ${incident.impact})`);
  console.log(incident.shortlink);
} catch (error) {
  if (!(error instanceof HeliographError)) throw error;
  console.error(`error (${error.status}): ${error.message}`);
  process.exit(error.status === 401 || error.status === 403 ? 3 : error.status === 404 ? 4 : 1);
}
