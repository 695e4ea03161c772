// check.mjs - holds docs/openapi.json to the standard and the API's real
// answers to docs/openapi.json.
//
//   node check.mjs validate SPEC
//       the description is a valid OpenAPI document (swagger-parser: the
//       OpenAPI 3.0 schema, and every $ref resolves)
//   node check.mjs responses SPEC DIR [--cover]
//       every answer recorded in DIR (one JSON file per request, written
//       by tests/lib_http.sh's req() when DRYDOCK_HTTP_RECORD is set) is
//       one the description allows: a declared status (or, for an error,
//       the default Error response), a declared content type, and a body
//       valid against its schema (ajv; the API's objects are fixed, so a
//       field the schema lacks, or a required one missing, fails).  An
//       answer under /api whose path or method the description has not
//       must be an Error.  With --cover, every operation must have been
//       answered with a success at least once.
//
// Exits 1 and names each bad answer when one is found.
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function usage() {
	console.error("usage: node check.mjs validate SPEC | responses SPEC DIR [--cover]");
	process.exit(2);
}

// The description's paths as matchers, literal segments before {params}
// so that a literal path wins over a template that would also fit it.
function matchers(spec) {
	return Object.keys(spec.paths)
		.map((path) => ({
			path,
			params: (path.match(/\{[^}]+\}/g) || []).length,
			// a trailing {path} is the rest of the path, slashes and all,
			// as the router's; any other {param} is one segment
			re: new RegExp(
				"^" +
					path
						.replace(/\{path\}$/, "\u0000")
						.split(/\{[^}]+\}/)
						.map((s) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))
						.join("[^/]+")
						.replace("\u0000", ".*") +
					"$",
			),
		}))
		.sort((a, b) => a.params - b.params);
}

// ajv's errors, each with where in the body and, for a field the schema
// does not have, its name.
function explain(errors) {
	return errors
		.map((e) => {
			const extra = e.params && e.params.additionalProperty;
			return `${e.instancePath || "the body"} ${e.message}` +
				(extra ? ` ('${extra}')` : "");
		})
		.join("; ");
}

function loadRecords(dir) {
	return readdirSync(dir)
		.filter((f) => f.endsWith(".json"))
		.sort()
		.map((f) => ({ file: f, ...JSON.parse(readFileSync(join(dir, f), "utf8")) }));
}

async function checkResponses(specPath, dir, cover) {
	const spec = await SwaggerParser.dereference(specPath);
	// ajv knows OpenAPI 3.0's nullable; example it must be told of
	const ajv = new Ajv({ allErrors: true, strict: true });
	ajv.addKeyword("example");
	addFormats(ajv);
	const compiled = new Map();
	const validator = (schema) => {
		if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
		return compiled.get(schema);
	};
	const errorSchema = spec.components.schemas.Error;
	const paths = matchers(spec);
	const answered = new Map(); // "METHOD PATH" -> successes seen
	for (const path of Object.keys(spec.paths))
		for (const m of METHODS)
			if (spec.paths[path][m]) answered.set(`${m.toUpperCase()} ${path}`, 0);

	const bad = [];
	let checked = 0;
	let outside = 0;
	for (const rec of loadRecords(dir)) {
		const url = rec.path.split("?")[0];
		const where = `${rec.method} ${rec.path} -> ${rec.status} (${rec.file})`;
		if (rec.method === "HEAD" || !rec.status) continue; // no body, no answer
		const type = (rec.type || "").split(";")[0].trim().toLowerCase();
		const fail = (msg) => bad.push(`${where}: ${msg}: ${rec.body.slice(0, 300).trimEnd()}`);
		const json = () => {
			try {
				return JSON.parse(rec.body);
			} catch (e) {
				fail(`the body is not JSON (${e.message})`);
				return undefined;
			}
		};
		const against = (schema, what) => {
			const body = json();
			if (body === undefined) return;
			const v = validator(schema);
			if (!v(body)) fail(`${what}: ${explain(v.errors)}`);
		};
		const match = paths.find((p) => p.re.test(url));
		const op = match && spec.paths[match.path][rec.method.toLowerCase()];
		if (!op) {
			// 404 under /api, 405, or refused before routing (400, 413)
			if (url !== "/api" && !url.startsWith("/api/")) {
				outside++;
				continue;
			}
			checked++;
			if (rec.status < 400) fail("a success on a path or method the description lacks");
			else if (type !== "application/json") fail(`content type '${rec.type}', not JSON`);
			else against(errorSchema, "not an Error");
			continue;
		}
		checked++;
		const declared = op.responses[String(rec.status)];
		const response = declared || op.responses.default;
		if (!declared && rec.status < 400) {
			fail(`status ${rec.status} is not declared for ${rec.method} ${match.path}`);
			continue;
		}
		if (!response) {
			fail(`status ${rec.status} is not declared and there is no default`);
			continue;
		}
		const media = response.content && response.content[type];
		if (!media) {
			fail(`content type '${rec.type}' is not declared for status ${rec.status}`);
			continue;
		}
		if (type === "application/json") against(media.schema, `response ${rec.status}`);
		else if (media.schema.type !== "string") fail("a text body for a schema that is not a string");
		if (rec.status >= 200 && rec.status < 300) {
			const key = `${rec.method} ${match.path}`;
			answered.set(key, answered.get(key) + 1);
		}
	}
	if (checked === 0) bad.push(`no answers under /api recorded in ${dir}`);
	if (cover)
		for (const [key, n] of answered)
			if (n === 0) bad.push(`${key}: no test got a successful answer from it`);
	for (const b of bad) console.error(b);
	console.log(
		`${checked} answers checked against ${answered.size} operations` +
			` (${outside} outside the API skipped), ${bad.length} bad`,
	);
	return bad.length === 0;
}

const [cmd, spec, dir, ...rest] = process.argv.slice(2);
if (cmd === "validate" && spec) {
	try {
		const api = await SwaggerParser.validate(spec);
		console.log(`${spec}: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
	} catch (e) {
		console.error(`${spec}: ${e.message}`);
		process.exit(1);
	}
} else if (cmd === "responses" && spec && dir) {
	process.exit((await checkResponses(spec, dir, rest.includes("--cover"))) ? 0 : 1);
} else {
	usage();
}
