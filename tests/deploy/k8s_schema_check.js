// Validates rendered Kubernetes manifests against the API's OpenAPI schemas
// (types, required fields, enums, formats) with the validators that the npm
// package kubernetes-models ships. Run by k8s_test.sh:
//
//   NODE_PATH=<dir>/node_modules node k8s_schema_check.js rendered.yaml...
//
// Every object must map to a known apiVersion/kind: an unknown one fails, so
// a typo in either cannot slip through. Note: the upstream schemas allow
// unknown fields; k8s_check.py checks the fields rerankd relies on.
"use strict";
const fs = require("fs");
const YAML = require("yaml");

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const obj = doc.toJSON();
    if (obj === null) continue;
    const where = `${file}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
      console.error(`${where}: no apiVersion/kind`);
      failures++;
      continue;
    }
    // "apps/v1" -> kubernetes-models/apps/v1/Deployment; "v1" -> v1/Service.
    const module = `kubernetes-models/${obj.apiVersion}/${obj.kind}`;
    let Model;
    try {
      Model = require(module)[obj.kind];
    } catch (e) {
      Model = undefined;
    }
    if (typeof Model !== "function") {
      console.error(`${where}: unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`);
      failures++;
      continue;
    }
    try {
      new Model(obj).validate();
      checked++;
      console.log(`schema ok: ${where} (${obj.apiVersion})`);
    } catch (e) {
      console.error(`${where}: schema violation: ${e.message}`);
      failures++;
    }
  }
}
if (checked === 0 && failures === 0) {
  console.error("no objects to validate");
  process.exit(1);
}
console.log(`schema: ${checked} objects valid, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
