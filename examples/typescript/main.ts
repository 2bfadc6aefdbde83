/*
 * The quickstart policy (examples/quickstart/*.hcl) written in TypeScript. `microseg inspect`
 * prints the same model for both directories, byte for byte: the TypeScript front end produces
 * exactly what the HCL evaluator does.
 *
 * HCL variables and locals are plain constants here; read process.env if you need inputs.
 */
import { App, Enforcer, EnforcerProfile, Expect, ExternalNetwork, Namespace, NetworkPolicy, Output, ProcessingUnit } from "microseg";

// Inputs (HCL `variable "env"` and `variable "db_port"`).
const env: "prod" | "staging" = "prod";
const dbPort = 5432;

// The three tiers, one enforcer host (a network namespace) each, addressed from 198.18.0.0/15.
const tiers = {
  web: "198.18.1.10",
  api: "198.18.2.10",
  db: "198.18.3.10",
};
const envTag = `env=${env}`;

const app = new App();

// Namespace, enforcer hosts and workloads. Each enforcer is a network namespace on this machine
// (`microseg sandbox up` creates them), so the example runs anywhere with root and no VMs.
const acme = new Namespace(app, "/acme", {
  defaultIncomingAction: "reject",
  defaultOutgoingAction: "reject",
});

const prod = new Namespace(app, "/acme/prod", {
  namespace: acme,
  description: "Production workloads",
});

const defaultProfile = new EnforcerProfile(app, "default", {
  namespace: prod,
  // Keep ssh reachable whatever the policies say, so a bad policy cannot lock admins out.
  failsafe: ["tcp/22"],
});

const web1 = new Enforcer(app, "web-1", {
  namespace: prod,
  profile: defaultProfile,
  tags: ["zone=dmz"],
  connection: { type: "netns", netns: "mseg-web-1" },
});

const api1 = new Enforcer(app, "api-1", {
  namespace: prod,
  profile: defaultProfile,
  connection: { type: "netns", netns: "mseg-api-1" },
});

const db1 = new Enforcer(app, "db-1", {
  namespace: prod,
  profile: defaultProfile,
  connection: { type: "netns", netns: "mseg-db-1" },
});

const web = new ProcessingUnit(app, "web", {
  namespace: prod,
  enforcer: web1,
  addresses: [tiers.web],
  tags: ["app=web", envTag, "tier=frontend"],
});

const api = new ProcessingUnit(app, "api", {
  namespace: prod,
  enforcer: api1,
  addresses: [tiers.api],
  tags: ["app=api", envTag, "tier=backend"],
});

const db = new ProcessingUnit(app, "db", {
  namespace: prod,
  enforcer: db1,
  addresses: [tiers.db],
  tags: ["app=db", envTag, "tier=data"],
});

// Peers that are not workloads.

const dns = new ExternalNetwork(app, "dns", {
  namespace: prod,
  entries: ["198.19.53.0/24"],
  servicePorts: ["udp/53", "tcp/53"],
  tags: ["kind=dns"],
});

const internet = new ExternalNetwork(app, "internet", {
  namespace: prod,
  // Everything except our own benchmarking range: workloads reach each other only through the
  // policies below, never through the "internet" rule.
  entries: ["0.0.0.0/0", "!198.18.0.0/15"],
  servicePorts: ["tcp/443", "tcp/80"],
  tags: ["kind=internet"],
});

// Who may talk to whom. Subjects and objects are tag expressions: [[a, b], [c]] = (a AND b) OR c.

new NetworkPolicy(app, "web-to-api", {
  namespace: prod,
  description: "The web tier calls the API on its port range.",
  subject: [["app=web", envTag]],
  object: [["app=api", envTag]],
  ports: ["tcp/8000:8100"],
});

new NetworkPolicy(app, "backend-to-db", {
  namespace: prod,
  description: "Anything in the environment may open the database port...",
  subject: [[envTag]],
  object: [["app=db"]],
  ports: [`tcp/${dbPort}`],
});

new NetworkPolicy(app, "no-web-to-db", {
  namespace: prod,
  description: "...except the web tier: a matching reject beats a matching allow.",
  subject: [["app=web"]],
  object: [["app=db"]],
  action: "reject",
  ports: [`tcp/${dbPort}`],
  logsEnabled: true,
});

new NetworkPolicy(app, "ping-inside", {
  namespace: prod,
  description: "Echo requests only (ICMP type 8, code 0) between workloads.",
  subject: [["$identity=processingunit"]],
  object: [["$identity=processingunit"]],
  ports: ["icmp/8/0"],
});

new NetworkPolicy(app, "dns-out", {
  namespace: prod,
  description: "Workloads resolve names; the resolvers are not workloads, so outgoing only.",
  subject: [["$identity=processingunit"]],
  object: [["kind=dns"]],
  applyPolicyMode: "outgoing",
});

new NetworkPolicy(app, "web-to-internet", {
  namespace: prod,
  subject: [["app=web"]],
  object: [["$name=internet"]],
  ports: ["tcp/443"],
  applyPolicyMode: "outgoing",
});

// Policy tests: `microseg test` traces each connection through the compiled rules and fails when
// the verdict differs. They pin what the policies above are for, so a later edit that breaks one
// of these intentions fails in CI instead of in production.

new Expect(app, "web-calls-api", {
  from: web,
  to: api,
  port: "tcp/8080",
  verdict: "allow",
});

new Expect(app, "web-stays-in-api-range", {
  // web-to-api allows tcp/8000:8100 only; everything else falls to the namespace default.
  from: web,
  to: api,
  port: "tcp/8101",
  verdict: "reject",
});

new Expect(app, "api-reaches-db", {
  from: api,
  to: db,
  port: "tcp/5432",
  verdict: "allow",
});

new Expect(app, "web-never-reaches-db", {
  // backend-to-db matches web too, but no-web-to-db rejects it: reject beats allow.
  from: web,
  to: db,
  port: "tcp/5432",
  verdict: "reject",
});

new Expect(app, "web-pings-db", {
  from: web,
  to: db,
  port: "icmp/8/0",
  verdict: "allow",
});

new Expect(app, "no-unsolicited-echo-reply", {
  // Only echo requests open a connection; replies travel as established traffic.
  from: api,
  to: web,
  port: "icmp/0/0",
  verdict: "reject",
});

new Expect(app, "api-does-not-call-web", {
  from: api,
  to: web,
  port: "tcp/8080",
  verdict: "reject",
});

new Expect(app, "ssh-failsafe", {
  // The enforcer profile keeps tcp/22 open whatever the policies say.
  from: api,
  to: db,
  port: "tcp/22",
  verdict: "allow",
});

new Expect(app, "web-reaches-internet-https", {
  from: web,
  to: internet,
  port: "tcp/443",
  verdict: "allow",
});

new Expect(app, "web-no-internet-http", {
  // The internet network serves tcp/80 too, but the policy only allows tcp/443.
  from: web,
  to: internet,
  port: "tcp/80",
  verdict: "reject",
});

new Expect(app, "api-no-internet", {
  from: api,
  to: internet,
  port: "tcp/443",
  verdict: "reject",
});

new Expect(app, "db-resolves-names", {
  from: db,
  to: dns,
  port: "udp/53",
  verdict: "allow",
});

new Expect(app, "dns-ports-only", {
  // dns-out allows any port, intersected with the network's service_ports (udp/53, tcp/53).
  from: db,
  to: dns,
  port: "udp/123",
  verdict: "reject",
});

// HCL's keys() returns keys in lexical order; sort to match.
new Output(app, "tiers", { value: Object.keys(tiers).sort() });

export default app;
