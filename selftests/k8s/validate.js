// SPDX-License-Identifier: GPL-2.0-only
// Validates Kubernetes objects offline against the API's OpenAPI schemas,
// with the npm package kubernetes-models (pinned in npm/package-lock.json),
// strictly: a field the schema does not name, at any depth, is an error.
//
//   NODE_PATH=build/k8s-node/node_modules node validate.js FILE.yaml...
//
// Prints one line per object ("ok Kind/name" or "FAIL Kind/name: why") and
// exits 1 when an object is invalid or of a kind it has no model for.
//
// Why strict needs more than the models: kubernetes-models compiles its
// schemas without additionalProperties:false, so "hostPth:" or
// "mountPropogation:" pass its validate().  Its compiled validators do read
// every property their schema names (to test it against undefined), and a
// map's validator reads every key.  So the object is validated through a
// Proxy that records each key read: a key of the document that the
// validator never read is one no schema on its path knows.
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

// A read-only view of @value whose reads land in @read (a Set of JSON
// pointers, "/spec/template/spec/volumes/0/hostPath").
function tracked(value, path, read) {
	if (value === null || typeof value !== "object")
		return value;
	return new Proxy(value, {
		get(target, key, receiver) {
			const v = Reflect.get(target, key, receiver);

			if (typeof key !== "string" || !Object.prototype.hasOwnProperty.call(target, key))
				return v;
			read.add(`${path}/${key}`);
			return tracked(v, `${path}/${key}`, read);
		},
		set() {
			throw new Error("validate.js: the validator wrote to the document");
		},
	});
}

// Every key of @value (recursively) that is not in @read.
function unread(value, path, read, out) {
	if (value === null || typeof value !== "object")
		return out;
	for (const key of Object.keys(value)) {
		const p = `${path}/${key}`;

		if (!read.has(p))
			out.push(p);
		else
			unread(value[key], p, read, out);
	}
	return out;
}

// Throws when @obj is invalid or has a field no schema knows.
function validateStrict(Model, obj) {
	const read = new Set();

	// the model's validate() with the tracked document as `this`: the
	// compiled schema sees exactly the document, and every read is counted
	Model.prototype.validate.call(tracked(obj, "", read));
	const unknown = unread(obj, "", read, []);
	if (unknown.length)
		throw new Error(`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
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
			validateStrict(Model, obj);
			console.log(`ok ${what} (${obj.apiVersion})`);
		} catch (e) {
			console.log(`FAIL ${file}: ${what}: ${e.message}`);
			bad++;
		}
	}
}
process.exit(bad ? 1 : 0);
