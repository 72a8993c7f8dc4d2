// Checks the contract documents against their specifications' schemas:
// docs/asyncapi.yaml against AsyncAPI 3.0 (@asyncapi/parser) and
// docs/openapi.yaml against OpenAPI 3.1. The examples are checked against
// their payload schemas by the Go tests (docs/contract). .ci/run installs the tools in a
// temporary directory and runs this file from there.
import { Parser, fromFile } from '@asyncapi/parser';
import { Validator } from '@seriousme/openapi-schema-validator';

const [asyncapiPath, openapiPath] = process.argv.slice(2);
let failed = false;

const { document, diagnostics } = await fromFile(new Parser(), asyncapiPath).parse();
for (const d of diagnostics.filter((d) => d.severity === 0)) {
  console.error(`${asyncapiPath}: ${d.code} at ${d.path.join('/')}: ${d.message}`);
  failed = true;
}
if (!document) failed = true;
else console.log(`${asyncapiPath}: valid AsyncAPI ${document.version()}`);

const oas = new Validator();
const res = await oas.validate(openapiPath);
if (!res.valid) {
  console.error(`${openapiPath}: ${JSON.stringify(res.errors, null, 2)}`);
  failed = true;
} else console.log(`${openapiPath}: valid OpenAPI ${oas.version}`);

process.exit(failed ? 1 : 0);
