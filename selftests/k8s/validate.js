// SPDX-License-Identifier: GPL-2.0-only
// Validates Kubernetes objects offline against the API's OpenAPI schemas,
// with the npm package kubernetes-models (pinned in npm/package-lock.json).
//
//   NODE_PATH=build/k8s-node/node_modules node validate.js FILE.yaml...
//
// Prints one line per object ("ok Kind/name" or "FAIL Kind/name: why") and
// exits 1 when an object is invalid or of a kind it has no model for.
"use strict";
const fs = require("fs");
const YAML = require("yaml");

// apiVersion "group/version" -> the package's directory: "apps/v1",
// "batch/v1", "v1" (core), "rbac.authorization.k8s.io/v1"
function model(apiVersion, kind) {
	const dir = apiVersion.includes("/") ? apiVersion : "v1";
	try {
		return require(`kubernetes-models/${dir}/${kind}`)[kind];
	} catch (e) {
		return null;
	}
}

let bad = 0;
for (const file of process.argv.slice(2)) {
	const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
	for (const doc of docs) {
		if (doc.errors.length) {
			console.log(`FAIL ${file}: ${doc.errors[0].message}`);
			bad++;
			continue;
		}
		const obj = doc.toJSON();
		if (obj === null)
			continue;
		const what = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
		const Model = obj.apiVersion && obj.kind && model(obj.apiVersion, obj.kind);
		if (!Model) {
			console.log(`FAIL ${file}: ${what}: no model for ${obj.apiVersion} ${obj.kind}`);
			bad++;
			continue;
		}
		try {
			new Model(obj).validate();
			console.log(`ok ${what} (${obj.apiVersion})`);
		} catch (e) {
			console.log(`FAIL ${file}: ${what}: ${e.message}`);
			bad++;
		}
	}
}
process.exit(bad ? 1 : 0);
