import { Api } from "./operations.js";
import { Transport, type ClientOptions } from "./core.js";

/**
 * The Heliograph API: every resource as a property (`client.incidents`, `client.components`,
 * …; generated in operations.ts), over a transport that retries, adds idempotency keys and
 * raises typed errors.
 *
 * ```ts
 * const client = new HeliographClient({ url: "https://status.example.com", token: "hg_…" });
 * const incident = await client.incidents.create({ name: "Runs not starting", status: "investigating" });
 * for await (const open of client.incidents.listUnresolved()) console.log(open.name);
 * ```
 */
export class HeliographClient extends Api {
  readonly transport: Transport;

  constructor(options: ClientOptions = {}) {
    const transport = new Transport(options);
    super(transport);
    this.transport = transport;
  }
}
