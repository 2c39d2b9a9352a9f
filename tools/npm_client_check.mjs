// The RNDS guide's npm client (`rnds@0.1.7`, unchanged) makes its five
// calls against `rnds-drop simulate`: token (mutual TLS), metadata (its
// FHIR version check), Organization (CNES), Practitioner (CNS) and the
// notification (POST Bundle). Run by tools/npm_client_check.sh from the
// folder where the package is installed.
//
// The client connects to RNDS' own host names on port 443 (the version
// check builds `<uf>-ehr-services.saude.gov.br` itself), so this driver
// only changes where those names lead: `*.saude.gov.br` resolves to
// 127.0.0.1 and the default HTTPS port is the simulator's. Certificates are
// verified as usual, against the simulator's test CA (NODE_EXTRA_CA_CERTS).
import fs from "node:fs";
import https from "node:https";

const port = Number(process.env.SIM_PORT);
https.globalAgent.defaultPort = port;
https.globalAgent.options.lookup = (hostname, options, callback) => {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  if (!hostname.endsWith(".saude.gov.br")) {
    callback(new Error(`${hostname} is not an RNDS host name`));
  } else if (options.all) {
    callback(null, [{ address: "127.0.0.1", family: 4 }]);
  } else {
    callback(null, "127.0.0.1", 4);
  }
};

const { default: RNDS } = await import("rnds");

const calls = [];
const record = (name, ok, detail) => {
  calls.push(name);
  console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`);
  if (!ok) process.exitCode = 1;
};

// cliente(logging, security, check): check=true gets the token and checks
// the server's FHIR version (calls 1 and 2); it throws if either fails.
let rnds;
try {
  rnds = await RNDS.cliente(false, true, true);
  record("token", rnds.cache.access_token?.length > 0, "GET /api/token com certificado");
  record("metadata", true, "GET /api/fhir/r4/metadata, fhirVersion 4.0.1");
} catch (error) {
  record("token + metadata", false, String(error));
  process.exit(1);
}

const cnes = await rnds.cnes(process.env.SIM_CNES);
record("cnes", cnes.code === 200, `Organization/${process.env.SIM_CNES} → ${cnes.code}`);

const cns = await rnds.cns(process.env.RNDS_REQUISITANTE_CNS);
record("cns", cns.code === 200, `Practitioner/${process.env.RNDS_REQUISITANTE_CNS} → ${cns.code}`);

const bundle = fs.readFileSync(process.env.SIM_BUNDLE, "utf8");
const sent = await rnds.notificar(bundle);
record(
  "notificar",
  sent.code === 201 && typeof sent.retorno === "string" && sent.retorno.length > 0,
  `POST /api/fhir/r4/Bundle → ${sent.code} ${sent.code === 201 ? `id ${sent.retorno}` : sent.retorno}`
);

console.log(`${calls.length} chamadas do cliente npm rnds@0.1.7`);
if (calls.length !== 5) process.exitCode = 1;
