// Bad input, fuzzed (issue 6, item 4): at least 1,000 generated bad calls across every api
// routine, made as querybudget_app. Each routine's parameters are a table below: how to make a
// valid value from the seeded data, and the bad values with the SQLSTATE each must raise. A
// fixed-seed PRNG draws a routine, one parameter (or two) to spoil and a bad value; the other
// arguments are valid. Each call must fail with a code that docs/error-codes.md registers
// (read from the file, so the docs and the code cannot drift) and that the routine's own
// comment (its contract) names; with one spoiled parameter, exactly that parameter's code and
// a message that names the parameter. None may succeed, raise an internal error (XX000) or a
// raw constraint violation (23xxx), and every app table is unchanged afterwards (checksums).
//
// Besides the bad values each parameter lists, every parameter also gets values of the wrong
// shape for its type (TYPE_INPUT: 10.5 or 2147483648 for an integer, 'abc' for a uuid, 'NaN'
// for a timestamptz, a NUL character in a text, malformed or 7-dimensional array literals).
// The server refuses those before our guards run; docs/error-codes.md registers each such code
// with the argument types and the routines that raise it (its second table), and the call must
// raise exactly the registered code, listed there for that routine.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";
import { tableChecksums } from "./harness/fixtures.ts";
import { prng } from "./harness/random.ts";
import { connectAs } from "./harness/roles.ts";

const db = useTestDatabase("fuzz");
const CALLS = 2000;

/** The SQLSTATEs of the registry: the first column of the table in docs/error-codes.md. */
function registeredCodes(): Set<string> {
  const text = readFileSync(
    join(import.meta.dirname, "..", "docs", "error-codes.md"),
    "utf8",
  );
  return new Set(
    [...text.matchAll(/^\|\s*`([0-9A-Z]{5})`\s*\|/gm)].map((m) => m[1]!),
  );
}

interface ServerCode {
  /** the argument types whose input raises it (as format_type spells them, timestamptz short) */
  types: Set<string>;
  /** `every api routine`, `every api routine except ...`, or the routines named */
  raisedBy: string;
}

/** The server's codes of the registry (its second table): code -> argument types and routines. */
function serverCodes(): Map<string, ServerCode> {
  const text = readFileSync(
    join(import.meta.dirname, "..", "docs", "error-codes.md"),
    "utf8",
  );
  const out = new Map<string, ServerCode>();
  for (const m of text.matchAll(/^\|\s*`([0-9A-Z]{5})`\s*\|(.*)\|\s*$/gm)) {
    const cells = m[2]!.split("|").map((c) => c.trim());
    if (m[1]!.startsWith("QB") || cells.length < 4) continue;
    out.set(m[1]!, {
      types: new Set([...cells[2]!.matchAll(/`([^`]+)`/g)].map((t) => t[1]!)),
      raisedBy: cells[3]!,
    });
  }
  return out;
}

/** The routines (names without `api.`) a registry cell names, given every api routine. */
function routinesOf(raisedBy: string, all: readonly string[]): Set<string> {
  const named = [...raisedBy.matchAll(/`api\.(\w+)`/g)].map((m) => m[1]!);
  if (/^every api routine except\b/.test(raisedBy))
    return new Set(all.filter((r) => !named.includes(r)));
  if (/^every api routine\b/.test(raisedBy)) return new Set(all);
  return new Set(named);
}

/** A PostgreSQL array literal, sent as text and cast by the call. */
function arrayLiteral(values: readonly (string | number | null)[]): string {
  const item = (v: string | number | null) =>
    v === null
      ? "NULL"
      : typeof v === "number"
        ? String(v)
        : `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  return `{${values.map(item).join(",")}}`;
}

interface Subject {
  tenant: string;
  collection: string;
  otherCollection: string; // a collection of another tenant
  documents: string[];
  user: string;
  conversation: string;
  workflow: string;
  gap: string;
  agentName: string;
  connector: string;
  otherConnector: string; // a connector of another tenant
  externalIds: string[];
  token: string;
}

type Value = string | number | boolean | null | (string | number | null)[];
interface Bad {
  what: string;
  value: Value | ((s: Subject) => Value);
  code: string;
  /** a value of the wrong shape for the type (TYPE_INPUT), refused by the server */
  typeInput?: boolean;
}
interface Param {
  name: string;
  type: string;
  valid: (s: Subject, r: () => number) => Value;
  bad: Bad[];
}
interface Routine {
  name: string;
  procedure?: boolean;
  params: Param[];
}

const pickOne = <T>(items: readonly T[], r: () => number): T =>
  items[Math.floor(r() * items.length)]!;
const some = (items: readonly string[], r: () => number) =>
  items
    .filter(() => r() < 0.3)
    .slice(0, 20)
    .concat(items[0]!);

// Bad values shared by several parameters.
const unknownTenants: Bad[] = [
  { what: "null", value: null, code: "QB001" },
  { what: "-1", value: -1, code: "QB005" },
  { what: "0", value: 0, code: "QB005" },
  { what: "an id no tenant has", value: 987654321, code: "QB005" },
  { what: "the largest bigint", value: "9223372036854775807", code: "QB005" },
  { what: "the smallest bigint", value: "-9223372036854775808", code: "QB005" },
];
const tenant: Param = {
  name: "p_tenant_id",
  type: "bigint",
  valid: (s) => s.tenant,
  bad: unknownTenants,
};
const required = (
  name: string,
  type: string,
  valid: Param["valid"],
  more: Bad[] = [],
): Param => ({
  name,
  type,
  valid,
  bad: [{ what: "null", value: null, code: "QB001" }, ...more],
});
const idArray = (
  name: string,
  type: string,
  valid: Param["valid"],
  element: (i: number) => string | number,
): Param => ({
  name,
  type,
  valid,
  bad: [
    { what: "null", value: null, code: "QB001" },
    { what: "empty", value: [], code: "QB002" },
    {
      what: "10,001 elements",
      value: Array.from({ length: 10_001 }, (_, i) => element(i)),
      code: "QB003",
    },
    {
      what: "50,000 elements",
      value: Array.from({ length: 50_000 }, (_, i) => element(i)),
      code: "QB003",
    },
    {
      what: "a null element",
      value: (s) => [...(valid(s, () => 0) as (string | number)[]), null],
      code: "QB007",
    },
    { what: "only a null", value: [null], code: "QB007" },
    // what postgres.js sends for a nested JS array
    {
      what: "two-dimensional",
      value: (s) => {
        const v = valid(s, () => 0) as (string | number)[];
        return `{{${v[0]}},{${v.at(-1)}}}`;
      },
      code: "QB010",
    },
    {
      what: "three-dimensional with a null",
      value: `{{{NULL,${element(0)}}}}`,
      code: "QB010",
    },
  ],
});
const limit = (name: string, max: number, optional = false): Param => ({
  name,
  type: "integer",
  valid: (_s, r) => 1 + Math.floor(r() * max),
  bad: [
    ...(optional ? [] : [{ what: "null", value: null, code: "QB001" } as Bad]),
    { what: "0", value: 0, code: "QB004" },
    { what: "-1", value: -1, code: "QB004" },
    { what: `${max + 1}`, value: max + 1, code: "QB004" },
    { what: "the largest integer", value: 2147483647, code: "QB004" },
    { what: "the smallest integer", value: -2147483648, code: "QB004" },
  ],
});
const timeCursor: Param = {
  name: "p_before",
  type: "timestamptz",
  valid: (_s, r) =>
    r() < 0.5
      ? null
      : new Date(Date.now() - r() * 90 * 86_400_000).toISOString(),
  bad: [
    { what: "infinity", value: "infinity", code: "QB006" },
    { what: "-infinity", value: "-infinity", code: "QB006" },
  ],
};
// The tie-breaking id of an exact keyset cursor: valid only with p_before, which may be null in
// the same call, so the valid value is null; negative is QB006 (given without p_before too:
// test/api/paging.test.ts).
const beforeIdCursor: Param = {
  name: "p_before_id",
  type: "bigint",
  valid: () => null,
  bad: [
    { what: "-1", value: -1, code: "QB006" },
    {
      what: "the smallest bigint",
      value: "-9223372036854775808",
      code: "QB006",
    },
  ],
};
const idCursor = (name: string): Param => ({
  name,
  type: "bigint",
  valid: (_s, r) => (r() < 0.5 ? null : String(1 + Math.floor(r() * 1000))),
  bad: [
    { what: "-1", value: -1, code: "QB006" },
    {
      what: "the smallest bigint",
      value: "-9223372036854775808",
      code: "QB006",
    },
  ],
});
const blanks: Bad[] = [
  { what: "empty", value: "", code: "QB008" },
  { what: "spaces", value: "   ", code: "QB008" },
  { what: "a tab and newlines", value: "\t\n\r\n", code: "QB008" },
  // blank in any script: Unicode space separators and the invisible format characters
  { what: "an ideographic space", value: "\u3000", code: "QB008" },
  {
    what: "no-break, em and thin spaces among ASCII ones",
    value: " \u00a0 \u2003\u2009 ",
    code: "QB008",
  },
  {
    what: "zero-width characters",
    value: "\u200b\ufeff\u2060\u200d",
    code: "QB008",
  },
  {
    what: "line and paragraph separators, a Mongolian vowel separator",
    value: "\u2028\u2029\u180e\n",
    code: "QB008",
  },
  {
    what: "a Hangul filler and a blank Braille cell",
    value: "\u3164 \u2800",
    code: "QB008",
  },
];
const oneOf = (
  name: string,
  allowed: string[],
  optional: boolean,
  wrong: string[],
): Param => ({
  name,
  type: "text",
  valid: (_s, r) => (optional && r() < 0.3 ? null : pickOne(allowed, r)),
  bad: [
    ...(optional ? [] : [{ what: "null", value: null, code: "QB001" } as Bad]),
    ...wrong.map((w): Bad => ({
      what: JSON.stringify(w),
      value: w,
      code: "QB008",
    })),
  ],
});
// Values of the wrong shape for the parameter's type, which the server refuses before the
// function runs (docs/error-codes.md, its second table). Every parameter gets those of its type.
const nested7 = (v: string) => `${"{".repeat(7)}${v}${"}".repeat(7)}`;
const TYPE_INPUT: Record<string, Bad[]> = {
  bigint: [
    { what: "1.5", value: "1.5", code: "22P02" },
    { what: "abc", value: "abc", code: "22P02" },
    { what: "1e3", value: "1e3", code: "22P02" },
    { what: "2^63", value: "9223372036854775808", code: "22003" },
    { what: "-2^63 - 1", value: "-9223372036854775809", code: "22003" },
  ],
  integer: [
    { what: "2147483648", value: "2147483648", code: "22003" },
    { what: "-2147483649", value: "-2147483649", code: "22003" },
    { what: "10.5", value: "10.5", code: "22P02" },
    { what: "ten", value: "ten", code: "22P02" },
  ],
  uuid: [
    { what: "abc", value: "abc", code: "22P02" },
    {
      what: "a uuid with a digit too many",
      value: "00000000-0000-0000-0000-0000000000001",
      code: "22P02",
    },
  ],
  boolean: [
    { what: "maybe", value: "maybe", code: "22P02" },
    { what: "2", value: "2", code: "22P02" },
  ],
  timestamptz: [
    { what: "NaN", value: "NaN", code: "22007" },
    { what: "allballs", value: "allballs", code: "22007" },
    { what: "294277-01-01", value: "294277-01-01", code: "22008" },
    { what: "4714-11-23 BC", value: "4714-11-23 BC", code: "22008" },
    { what: "2024-13-45", value: "2024-13-45", code: "22008" },
  ],
  text: [{ what: "a NUL character", value: "a\u0000b", code: "22021" }],
  // --- write api (issue 11): batches and TTLs ---
  jsonb: [
    { what: "not json", value: "not json", code: "22P02" },
    {
      what: "a truncated json array",
      value: '[{"role": "user"',
      code: "22P02",
    },
    { what: "malformed json", value: '{"email":', code: "22P02" },
  ],
  interval: [
    { what: "abc", value: "abc", code: "22007" },
    { what: "1 fortnight", value: "1 fortnight", code: "22007" },
    { what: "a million centuries", value: "178956971 years", code: "22008" },
  ],
  // --- end write api ---
  "bigint[]": [
    {
      what: "sub-arrays of different lengths",
      value: "{{1,2},{3}}",
      code: "22P02",
    },
    { what: "an element that is no number", value: "{1,x}", code: "22P02" },
    { what: "an unterminated literal", value: "{1,2", code: "22P02" },
    {
      what: "an element beyond bigint",
      value: "{1,9223372036854775808}",
      code: "22003",
    },
    { what: "7 dimensions", value: nested7("1"), code: "54000" },
  ],
  "text[]": [
    {
      what: "sub-arrays of different lengths",
      value: "{{a,b},{c}}",
      code: "22P02",
    },
    { what: "an unterminated literal", value: "{a,b", code: "22P02" },
    {
      what: "an element with a NUL character",
      value: '{a,"b\u0000c"}',
      code: "22021",
    },
    { what: "7 dimensions", value: nested7("a"), code: "54000" },
  ],
};
// --- write api, issue 11 items 3 and 4 (w2): batches are jsonb ---------------------------------
TYPE_INPUT.jsonb = [
  { what: "not json", value: "{not json", code: "22P02" },
  { what: "a trailing comma", value: '[{"a": 1},]', code: "22P02" },
];
/** A batch parameter: malformed batches and items, each refused with its code (app.require_items). */
const batch = (
  name: string,
  valid: Param["valid"],
  badItems: Bad[],
): Param => ({
  name,
  type: "jsonb",
  valid,
  bad: [
    { what: "null", value: null, code: "QB001" },
    { what: "not an array", value: "{}", code: "QB011" },
    { what: "a json string", value: '"x"', code: "QB011" },
    { what: "empty", value: "[]", code: "QB002" },
    {
      what: "10,001 items",
      value: JSON.stringify(Array.from({ length: 10_001 }, () => ({}))),
      code: "QB003",
    },
    { what: "an item that is no object", value: "[1]", code: "QB011" },
    {
      what: "an unknown key",
      value: (s) =>
        JSON.stringify([
          { ...JSON.parse(valid(s, () => 0) as string)[0], no_such_field: 1 },
        ]),
      code: "QB011",
    },
    ...badItems,
  ],
});
const syncDocuments = (s: Subject, r: () => number) =>
  JSON.stringify([
    ...[...new Set(some(s.externalIds, r))].map((e) => ({
      external_id: e,
      title: `Synced ${e}`,
    })),
    { external_id: `fuzz-new-${Math.floor(r() * 1e6)}`, title: "New" },
  ]);
const operationTypes = ["chunking", "indexing", "reindexing", "embedding"];
// --- end of the write api block (w2) ------------------------------------------------------------
const withTypeInput = (p: Param): Param => ({
  ...p,
  bad: [
    ...p.bad,
    ...(TYPE_INPUT[p.type] ?? []).map((b) => ({ ...b, typeInput: true })),
  ],
});

const flag = (name: string): Param =>
  required(name, "boolean", (_s, r) => r() < 0.5);
// --- issue 11, items 1 and 2 ---
// A session TTL: more than 0, at most 90 days (QB008 otherwise).
const ttl: Param = {
  name: "p_ttl",
  type: "interval",
  valid: (_s, r) => pickOne(["1 hour", "30 days", "90 days", "2 months"], r),
  bad: [
    { what: "null", value: null, code: "QB001" },
    { what: "zero", value: "0 seconds", code: "QB008" },
    { what: "negative", value: "-1 day", code: "QB008" },
    { what: "negative in sum", value: "1 day -25 hours", code: "QB008" },
    { what: "90 days and a second", value: "90 days 1 second", code: "QB008" },
    { what: "a million years", value: "1000000 years", code: "QB008" },
  ],
};
// A batch of users: a jsonb array of {"email", "display_name"}.
const userBatch: Param = {
  name: "p_users",
  type: "jsonb",
  valid: (_s, r) =>
    JSON.stringify([
      {
        email: `fuzz-${Math.floor(r() * 1e9)}@fuzz.example.com`,
        display_name: "Fuzz",
      },
    ]),
  bad: [
    { what: "null", value: null, code: "QB001" },
    { what: "empty", value: "[]", code: "QB002" },
    {
      what: "10,001 items",
      value: JSON.stringify(
        Array.from({ length: 10_001 }, (_, i) => ({
          email: `u${i}@x.example.com`,
          display_name: "x",
        })),
      ),
      code: "QB003",
    },
    {
      what: "an object, not an array",
      value: '{"email": "a@b.example.com", "display_name": "A"}',
      code: "QB011",
    },
    {
      what: "an item that is no object",
      value: '["a@b.example.com"]',
      code: "QB011",
    },
    {
      what: "an item without display_name",
      value: '[{"email": "a@b.example.com"}]',
      code: "QB011",
    },
    {
      what: "an email that is a number",
      value: '[{"email": 42, "display_name": "A"}]',
      code: "QB011",
    },
    {
      what: "a blank email",
      value: '[{"email": "\u3000", "display_name": "A"}]',
      code: "QB011",
    },
    {
      what: "an unknown key",
      value:
        '[{"email": "a@b.example.com", "display_name": "A", "role": "admin"}]',
      code: "QB011",
    },
    {
      what: "a null display_name",
      value: '[{"email": "a@b.example.com", "display_name": null}]',
      code: "QB011",
    },
  ],
};
// --- end of issue 11, items 1 and 2 ---
const documentIds = idArray(
  "p_document_ids",
  "bigint[]",
  (s, r) => some(s.documents, r),
  (i) => i + 1,
);

// --- write api (issue 11, items 5-7): batch parameters (jsonb arrays of objects) ---------------
// A batch's bad values: the shapes every batch refuses, and the items its own fields refuse
// (missing a required field, a wrong type, an unknown enum value, an unknown key), each QB011.
const batchParam = (
  name: string,
  valid: object[],
  badItems: { what: string; item: unknown }[],
  more: Bad[] = [],
): Param => ({
  name,
  type: "jsonb",
  valid: () => JSON.stringify(valid),
  bad: [
    { what: "null", value: null, code: "QB001" },
    {
      what: "an object, not an array",
      value: JSON.stringify(valid[0]),
      code: "QB011",
    },
    { what: "a json string", value: '"[]"', code: "QB011" },
    { what: "an array of numbers", value: "[1, 2]", code: "QB011" },
    {
      what: "a null item",
      value: JSON.stringify([valid[0], null]),
      code: "QB011",
    },
    { what: "empty", value: "[]", code: "QB002" },
    {
      what: "10,001 items",
      value: JSON.stringify(Array.from({ length: 10_001 }, () => valid[0])),
      code: "QB003",
    },
    {
      what: "an unknown key",
      value: JSON.stringify([{ ...valid[0], id: 7 }]),
      code: "QB011",
    },
    ...badItems.map((b): Bad => ({
      what: b.what,
      value: JSON.stringify([valid[0], b.item]),
      code: "QB011",
    })),
    ...more,
  ],
});
const messagesBatch = batchParam(
  "p_messages",
  [
    { role: "user", content: "hello", token_count: 3 },
    { role: "assistant", content: "hi" },
  ],
  [
    { what: "no role", item: { content: "x" } },
    { what: "an unknown role", item: { role: "admin", content: "x" } },
    { what: "content a number", item: { role: "user", content: 5 } },
    {
      what: "token_count a string",
      item: { role: "user", content: "x", token_count: "3" },
    },
    {
      what: "token_count negative",
      item: { role: "user", content: "x", token_count: -1 },
    },
    {
      what: "token_count fractional",
      item: { role: "user", content: "x", token_count: 1.5 },
    },
  ],
);
const gapsBatch = batchParam(
  "p_gaps",
  [{ title: "Who owns billing?", category: "decision" }],
  [
    { what: "no category", item: { title: "x" } },
    { what: "an unknown category", item: { title: "x", category: "gossip" } },
    { what: "a blank title", item: { title: " \u3000", category: "process" } },
    {
      what: "a status",
      item: { title: "x", category: "process", status: "open" },
    },
  ],
);
const agentsBatch = batchParam(
  "p_agents",
  [
    {
      name: "fuzz-agent",
      type: "worker",
      is_active: true,
      config: { model: "m" },
    },
  ],
  [
    { what: "no type", item: { name: "x" } },
    { what: "an unknown type", item: { name: "x", type: "boss" } },
    { what: "a blank name", item: { name: "", type: "worker" } },
    {
      what: "is_active a string",
      item: { name: "x", type: "worker", is_active: "yes" },
    },
    {
      what: "config an array",
      item: { name: "x", type: "worker", config: [] },
    },
  ],
);
const tasksBatch = batchParam(
  "p_tasks",
  [{ name: "Retrieve" }, { name: "Report" }],
  [
    { what: "no name", item: { agent_id: 1 } },
    { what: "agent_id a string", item: { name: "x", agent_id: "1" } },
    { what: "agent_id fractional", item: { name: "x", agent_id: 1.5 } },
    { what: "a status", item: { name: "x", status: "running" } },
  ],
  [
    {
      what: "an unknown agent",
      value: JSON.stringify([{ name: "x", agent_id: 987654321 }]),
      code: "QB009",
    },
  ],
);
const conversationTtl: Param = {
  name: "p_ttl",
  type: "interval",
  valid: (_s, r) =>
    r() < 0.5 ? null : pickOne(["1 minute", "1 day", "30 days", "180 days"], r),
  bad: [
    { what: "0", value: "0", code: "QB008" },
    { what: "59 seconds", value: "59 seconds", code: "QB008" },
    { what: "-1 day", value: "-1 day", code: "QB008" },
    { what: "181 days", value: "181 days", code: "QB008" },
    { what: "10 years", value: "10 years", code: "QB008" },
  ],
};
const unknownId = (what: string): Bad => ({ what, value: -1, code: "QB009" });
// --- end write api (items 5-7) ---------------------------------------------------------------

// Every api routine and its parameters, in order. A routine missing here fails the coverage test.
const ROUTINES: Routine[] = (
  [
    {
      name: "validate_session",
      params: [required("p_session_token", "uuid", (s) => s.token)],
    },
    {
      name: "agent_by_name",
      params: [tenant, required("p_name", "text", (s) => s.agentName, blanks)],
    },
    {
      name: "active_agents",
      params: [
        tenant,
        oneOf("p_type", ["orchestrator", "specialist", "worker"], true, [
          "",
          " ",
          "Worker",
          "workers",
          "orchestrator ",
          "manager",
        ]),
      ],
    },
    {
      name: "chunks_for_documents",
      params: [
        tenant,
        required("p_collection_id", "bigint", (s) => s.collection),
        documentIds,
        limit("p_limit", 10_000),
      ],
    },
    {
      name: "chunks_page",
      params: [
        tenant,
        required("p_collection_id", "bigint", (s) => s.collection),
        idCursor("p_after_id"),
        limit("p_page_size", 1000),
      ],
    },
    {
      name: "collection_statistics",
      params: [
        tenant,
        required("p_collection_id", "bigint", (s) => s.collection, [
          {
            what: "another tenant's collection",
            value: (s) => s.otherCollection,
            code: "QB009",
          },
          { what: "-1", value: -1, code: "QB009" },
        ]),
        flag("p_fresh"),
      ],
    },
    {
      name: "user_conversations",
      params: [
        tenant,
        required("p_user_id", "bigint", (s) => s.user),
        timeCursor,
        limit("p_limit", 1000),
        beforeIdCursor,
      ],
    },
    {
      name: "conversation_messages",
      params: [
        tenant,
        required("p_conversation_id", "bigint", (s) => s.conversation),
        timeCursor,
        limit("p_limit", 1000),
        beforeIdCursor,
      ],
    },
    { name: "document_status_counts", params: [tenant] },
    {
      name: "active_operations",
      params: [
        tenant,
        required("p_user_id", "bigint", (s) => s.user),
        limit("p_limit", 1000),
      ],
    },
    {
      name: "gap_answers",
      params: [tenant, required("p_knowledge_gap_id", "bigint", (s) => s.gap)],
    },
    { name: "knowledge_gap_stats", params: [tenant] },
    {
      name: "workflows_by_status",
      params: [
        tenant,
        oneOf(
          "p_status",
          ["pending", "executing", "completed", "failed", "cancelled"],
          false,
          ["", "  ", "done", "PENDING", "running"],
        ),
        timeCursor,
        limit("p_limit", 1000),
        beforeIdCursor,
      ],
    },
    {
      name: "workflow_tasks",
      params: [
        tenant,
        required("p_workflow_id", "bigint", (s) => s.workflow),
        oneOf(
          "p_status",
          ["pending", "running", "completed", "failed", "skipped"],
          true,
          ["", "executing", "Completed", "cancelled"],
        ),
      ],
    },
    {
      name: "classify_documents",
      params: [
        tenant,
        documentIds,
        required(
          "p_classification",
          "text",
          (_s, r) => pickOne(["invoice", "contract", "report"], r),
          blanks,
        ),
      ],
    },
    { name: "confirm_classifications", params: [tenant, documentIds] },
    { name: "delete_documents", params: [tenant, documentIds, flag("p_hard")] },
    {
      name: "new_external_ids",
      params: [
        tenant,
        required("p_connector_id", "bigint", (s) => s.connector, [
          {
            what: "another tenant's connector",
            value: (s) => s.otherConnector,
            code: "QB009",
          },
          { what: "-1", value: -1, code: "QB009" },
        ]),
        idArray(
          "p_external_ids",
          "text[]",
          (s, r) =>
            some(s.externalIds, r).concat(`fuzz-new-${Math.floor(r() * 1e6)}`),
          (i) => `x${i}`,
        ),
      ],
    },
    {
      name: "purge_documents_batch",
      params: [
        tenant,
        limit("p_batch_size", 10_000),
        idCursor("p_after_id"),
        flag("p_wait"),
      ],
    },
    {
      name: "purge_documents",
      procedure: true,
      params: [tenant, limit("p_batch_size", 10_000)],
    },
    // --- write api (issue 11, items 5-7) ---
    {
      name: "start_conversation",
      params: [
        tenant,
        required("p_user_id", "bigint", (s) => s.user, [
          unknownId("-1"),
          { what: "an id no user has", value: 987654321, code: "QB009" },
        ]),
        required("p_title", "text", () => "A question", blanks),
        conversationTtl,
      ],
    },
    {
      name: "add_messages",
      params: [
        tenant,
        required("p_conversation_id", "bigint", (s) => s.conversation, [
          unknownId("-1"),
        ]),
        messagesBatch,
      ],
    },
    { name: "open_gaps", params: [tenant, gapsBatch] },
    {
      name: "answer_gap",
      params: [
        tenant,
        required("p_knowledge_gap_id", "bigint", (s) => s.gap, [
          unknownId("-1"),
        ]),
        required("p_content", "text", () => "An answer", blanks),
      ],
    },
    {
      name: "set_gap_status",
      params: [
        tenant,
        idArray(
          "p_knowledge_gap_ids",
          "bigint[]",
          (s) => [s.gap],
          (i) => i + 1,
        ),
        oneOf(
          "p_status",
          ["open", "in_progress", "answered", "closed"],
          false,
          ["", "done", "OPEN", "pending"],
        ),
      ],
    },
    { name: "upsert_agents", params: [tenant, agentsBatch] },
    {
      name: "set_agents_active",
      params: [
        tenant,
        idArray(
          "p_agent_ids",
          "bigint[]",
          () => ["1", "2"],
          (i) => i + 1,
        ),
        flag("p_is_active"),
      ],
    },
    {
      name: "create_workflow",
      params: [
        tenant,
        required("p_name", "text", () => "Fuzz run", blanks),
        tasksBatch,
        {
          name: "p_agent_id",
          type: "bigint",
          valid: () => null,
          bad: [
            unknownId("-1"),
            { what: "an id no agent has", value: 987654321, code: "QB009" },
          ],
        },
      ],
    },
    {
      name: "set_task_status",
      params: [
        tenant,
        idArray(
          "p_task_ids",
          "bigint[]",
          () => ["1", "2"],
          (i) => i + 1,
        ),
        oneOf(
          "p_status",
          ["pending", "running", "completed", "failed", "skipped"],
          false,
          ["", "executing", "Completed", "cancelled"],
        ),
      ],
    },
    // --- end write api (items 5-7) ---
    // --- issue 11, items 1 and 2: tenants, users, connectors, collections, sessions ---
    {
      name: "create_tenant",
      params: [
        required(
          "p_name",
          "text",
          (_s, r) => `Fuzz tenant ${Math.floor(r() * 1e6)}`,
          blanks,
        ),
      ],
    },
    { name: "create_users", params: [tenant, userBatch] },
    {
      name: "user_by_email",
      params: [
        tenant,
        required(
          "p_email",
          "text",
          (_s, r) => `fuzz-${Math.floor(r() * 1e6)}@fuzz.example.com`,
          blanks,
        ),
      ],
    },
    {
      name: "create_connector",
      params: [
        tenant,
        oneOf(
          "p_kind",
          ["google_drive", "slack", "notion", "github", "web"],
          false,
          ["", " ", "dropbox", "Web", "web "],
        ),
        required("p_name", "text", () => "Fuzz connector", blanks),
      ],
    },
    {
      name: "create_collection",
      params: [
        tenant,
        required("p_owner_id", "bigint", (s) => s.user, [
          { what: "-1", value: -1, code: "QB009" },
          { what: "an id no user has", value: 987654321, code: "QB009" },
        ]),
        required("p_name", "text", () => "Fuzz collection", blanks),
      ],
    },
    {
      name: "set_collection_status",
      params: [
        tenant,
        idArray(
          "p_collection_ids",
          "bigint[]",
          (s) => [s.collection],
          (i) => i + 1,
        ),
        oneOf("p_status", ["active", "processing", "archived"], false, [
          "",
          "  ",
          "deleted",
          "ACTIVE",
          "completed",
        ]),
      ],
    },
    {
      name: "create_session",
      params: [
        tenant,
        required("p_user_id", "bigint", (s) => s.user, [
          { what: "an id no user has", value: 987654321, code: "QB009" },
        ]),
        ttl,
      ],
    },
    {
      name: "touch_session",
      params: [required("p_session_token", "uuid", (s) => s.token), ttl],
    },
    {
      name: "revoke_session",
      params: [required("p_session_token", "uuid", (s) => s.token)],
    },
    {
      name: "revoke_user_sessions",
      params: [tenant, required("p_user_id", "bigint", (s) => s.user)],
    },
    // --- end of issue 11, items 1 and 2 ---
    // --- write api, issue 11 items 3 and 4 (w2) ---
    {
      name: "sync_documents",
      params: [
        tenant,
        required("p_connector_id", "bigint", (s) => s.connector, [
          {
            what: "another tenant's connector",
            value: (s) => s.otherConnector,
            code: "QB009",
          },
          { what: "-1", value: -1, code: "QB009" },
        ]),
        required("p_collection_id", "bigint", (s) => s.collection, [
          {
            what: "another tenant's collection",
            value: (s) => s.otherCollection,
            code: "QB009",
          },
        ]),
        batch("p_documents", syncDocuments, [
          {
            what: "an item without external_id",
            value: '[{"title": "t"}]',
            code: "QB011",
          },
          {
            what: "a blank title",
            value: '[{"external_id": "e", "title": " "}]',
            code: "QB011",
          },
          {
            what: "content_size as text",
            value: '[{"external_id": "e", "title": "t", "content_size": "12"}]',
            code: "QB011",
          },
          {
            what: "a negative content_size",
            value: '[{"external_id": "e", "title": "t", "content_size": -1}]',
            code: "QB011",
          },
          {
            what: "an external id twice",
            value:
              '[{"external_id": "e", "title": "t"}, {"external_id": "e", "title": "u"}]',
            code: "QB011",
          },
        ]),
      ],
    },
    {
      name: "add_documents",
      params: [
        tenant,
        required("p_collection_id", "bigint", (s) => s.collection, [
          {
            what: "another tenant's collection",
            value: (s) => s.otherCollection,
            code: "QB009",
          },
        ]),
        batch(
          "p_documents",
          (_s, r) =>
            JSON.stringify([
              { title: `Upload ${Math.floor(r() * 1e6)}`, content_size: 10 },
            ]),
          [
            {
              what: "an item without title",
              value: '[{"content_size": 1}]',
              code: "QB011",
            },
            {
              what: "an external_id (uploads have none)",
              value: '[{"title": "t", "external_id": "e"}]',
              code: "QB011",
            },
            {
              what: "content_size 1.5",
              value: '[{"title": "t", "content_size": 1.5}]',
              code: "QB011",
            },
          ],
        ),
      ],
    },
    {
      name: "replace_chunks",
      params: [
        tenant,
        required("p_collection_id", "bigint", (s) => s.collection),
        batch(
          "p_chunks",
          (s) =>
            JSON.stringify([
              {
                document_id: Number(s.documents[0]),
                chunk_index: 0,
                content: "fuzz",
              },
            ]),
          [
            {
              what: "a negative chunk_index",
              value: '[{"document_id": 1, "chunk_index": -1, "content": "c"}]',
              code: "QB011",
            },
            {
              what: "an item without content",
              value: '[{"document_id": 1, "chunk_index": 0}]',
              code: "QB011",
            },
            {
              what: "document_id as text",
              value: '[{"document_id": "1", "chunk_index": 0, "content": "c"}]',
              code: "QB011",
            },
            {
              what: "a (document, chunk_index) twice",
              value:
                '[{"document_id": 1, "chunk_index": 0, "content": "c"}, {"document_id": 1, "chunk_index": 0, "content": "d"}]',
              code: "QB011",
            },
          ],
        ),
      ],
    },
    {
      name: "enqueue_operations",
      params: [
        tenant,
        required("p_collection_id", "bigint", (s) => s.collection, [
          {
            what: "another tenant's collection",
            value: (s) => s.otherCollection,
            code: "QB009",
          },
        ]),
        oneOf("p_type", operationTypes, false, [
          "",
          "Chunking",
          "parsing",
          "chunking ",
        ]),
        batch(
          "p_operations",
          (_s, r) =>
            JSON.stringify([
              { metadata: { strategy: pickOne(["semantic", "recursive"], r) } },
              {},
            ]),
          [
            {
              what: "metadata as text",
              value: '[{"metadata": "semantic"}]',
              code: "QB011",
            },
            {
              what: "a status (not a field)",
              value: '[{"status": "completed"}]',
              code: "QB011",
            },
            {
              what: "a user of no tenant",
              value: '[{"user_id": 987654321}]',
              code: "QB009",
            },
          ],
        ),
      ],
    },
    {
      name: "claim_operations",
      params: [
        tenant,
        oneOf("p_type", operationTypes, false, ["", "Chunking", "parsing"]),
        limit("p_limit", 1000),
      ],
    },
    {
      name: "finish_operations",
      params: [
        tenant,
        batch(
          "p_results",
          (_s, r) =>
            JSON.stringify([
              {
                id: 987654321 + Math.floor(r() * 1000),
                status: "completed",
                processing_time: 1.5,
              },
            ]),
          [
            {
              what: "an item without status",
              value: '[{"id": 1}]',
              code: "QB011",
            },
            {
              what: "status cancelled",
              value: '[{"id": 1, "status": "cancelled"}]',
              code: "QB011",
            },
            {
              what: "a negative processing_time",
              value: '[{"id": 1, "status": "failed", "processing_time": -0.5}]',
              code: "QB011",
            },
            {
              what: "an id twice",
              value:
                '[{"id": 1, "status": "failed"}, {"id": 1, "status": "completed"}]',
              code: "QB011",
            },
          ],
        ),
      ],
    },
    {
      name: "cancel_operations",
      params: [
        tenant,
        idArray(
          "p_operation_ids",
          "bigint[]",
          () => ["987654321"],
          (i) => i + 1,
        ),
      ],
    },
    // --- end of the write api block (w2) ---
  ] as Routine[]
).map((r) => ({ ...r, params: r.params.map(withTypeInput) }));

// the writers of the write api (items 5-7): their accepted calls are tested in test/api/*-writes.test.ts
const WRITE_API_ITEMS_5_TO_7 = [
  "start_conversation",
  "add_messages",
  "open_gaps",
  "answer_gap",
  "set_gap_status",
  "upsert_agents",
  "set_agents_active",
  "create_workflow",
  "set_task_status",
];

interface Outcome {
  routine: string;
  spoiled: string[];
  expected: string[];
  code: string | undefined;
  message: string;
}

let subjects: Subject[] = [];
let app: postgres.Sql;
let registry: Set<string>;
let contracts: Map<string, Set<string>>;
let server: Map<string, ServerCode>;
let apiRoutines: string[];

beforeAll(async () => {
  const { sql, url } = db();
  registry = registeredCodes();
  server = serverCodes();
  // Tenants with something of every kind: the valid arguments come from them.
  const rows = await sql<Subject[]>`
    with t as (
      select t.tenant_id,
             (select c.id from app.collections c where c.tenant_id = t.tenant_id
                and exists (select from app.documents d where d.tenant_id = c.tenant_id and d.collection_id = c.id)
              order by c.id limit 1) as collection,
             (select u.user_id from app.conversations u where u.tenant_id = t.tenant_id order by u.id limit 1) as "user",
             (select m.conversation_id from app.messages m where m.tenant_id = t.tenant_id order by m.id limit 1) as conversation,
             (select w.workflow_id from app.workflow_tasks w where w.tenant_id = t.tenant_id order by w.id limit 1) as workflow,
             (select g.knowledge_gap_id from app.gap_answers g where g.tenant_id = t.tenant_id order by g.id limit 1) as gap,
             (select a.name from app.agents a where a.tenant_id = t.tenant_id order by a.id limit 1) as agent_name,
             (select d.connector_id from app.documents d where d.tenant_id = t.tenant_id and d.connector_id is not null order by d.id limit 1) as connector,
             (select s.token::text from app.user_sessions s where s.tenant_id = t.tenant_id order by s.id limit 1) as token
      from app.tenants t
    )
    select t.tenant_id::text as tenant, t.collection::text as collection,
           (select c.id::text from app.collections c where c.tenant_id <> t.tenant_id order by c.id limit 1) as "otherCollection",
           array(select d.id::text from app.documents d where d.tenant_id = t.tenant_id and d.collection_id = t.collection order by d.id limit 50) as documents,
           t."user"::text as "user", t.conversation::text as conversation, t.workflow::text as workflow, t.gap::text as gap, t.agent_name as "agentName",
           t.connector::text as connector,
           (select c.id::text from app.connectors c where c.tenant_id <> t.tenant_id order by c.id limit 1) as "otherConnector",
           array(select d.external_id from app.documents d where d.tenant_id = t.tenant_id and d.connector_id = t.connector order by d.id limit 50) as "externalIds",
           t.token
    from t
    where t.collection is not null and t."user" is not null and t.conversation is not null and t.workflow is not null and t.gap is not null
      and t.agent_name is not null and t.connector is not null and t.token is not null
    order by t.tenant_id`;
  subjects = [...rows];
  const comments = await sql<{ name: string; comment: string | null }[]>`
    select p.proname as name, obj_description(p.oid, 'pg_proc') as comment from pg_proc p where p.pronamespace = 'api'::regnamespace`;
  contracts = new Map(
    comments.map((c) => [
      c.name,
      new Set([...(c.comment ?? "").matchAll(/\bQB\d{3}\b/g)].map((m) => m[0])),
    ]),
  );
  apiRoutines = [...new Set(comments.map((c) => c.name))].sort();
  app = await connectAs(url, "querybudget_app");
});

afterAll(async () => {
  await app?.end();
});

function call(routine: Routine, args: Value[]): Promise<unknown> {
  // every argument goes as text and is cast by the server: postgres.js would otherwise parse
  // a timestamptz argument itself (and fail on 'infinity' before the server sees it)
  const list = routine.params
    .map((p, i) => `$${i + 1}::text::${p.type}`)
    .join(", ");
  const text = routine.procedure
    ? `call api.${routine.name}(${list})`
    : `select * from api.${routine.name}(${list})`;
  const params = args.map((a) =>
    a === null ? null : Array.isArray(a) ? arrayLiteral(a) : String(a),
  );
  return app.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
}

/**
 * One generated bad call: a routine, a subject, one or two parameters spoiled (a (parameter,
 * bad value) pair drawn uniformly, so parameters with many bad values are spoiled more often; a
 * third of the draws from the type-input values, which would otherwise crowd out our own codes),
 * valid values for the others; what it answered.
 */
async function badCall(random: () => number): Promise<Outcome> {
  const routine = pickOne(ROUTINES, random);
  const subject = pickOne(subjects, random);
  const all = routine.params.flatMap((p) => p.bad.map((bad) => ({ p, bad })));
  const howMany = routine.params.length > 1 && random() < 0.2 ? 2 : 1;
  const spoiled = new Map<Param, Bad>();
  while (spoiled.size < howMany) {
    const typeInput = random() < 0.3;
    const pairs = all.filter((x) => !!x.bad.typeInput === typeInput);
    const { p, bad } = pickOne(pairs, random);
    if (!spoiled.has(p)) spoiled.set(p, bad);
  }
  const expected = [...spoiled.values()].map((bad) => bad.code);
  const args = routine.params.map((p) => {
    const bad = spoiled.get(p);
    if (!bad) return p.valid(subject, random);
    return typeof bad.value === "function" ? bad.value(subject) : bad.value;
  });
  const outcome: Outcome = {
    routine: routine.name,
    spoiled: [...spoiled.keys()].map((p) => p.name),
    expected,
    code: undefined,
    message: "",
  };
  try {
    await call(routine, args);
  } catch (error) {
    outcome.code = (error as { code?: string }).code;
    outcome.message = (error as Error).message;
  }
  return outcome;
}

describe("fuzzing the api with bad input", () => {
  test("the parameter table covers every api routine, with the parameters each really has", async () => {
    const rows = await db().sql<{ name: string; args: string[] }[]>`
      select p.proname as name, coalesce(p.proargnames[1:p.pronargs], '{}') as args
      from pg_proc p where p.pronamespace = 'api'::regnamespace order by 1`;
    const inTable = Object.fromEntries(
      ROUTINES.map((r) => [r.name, r.params.map((p) => p.name)]),
    );
    const inDatabase = Object.fromEntries(rows.map((r) => [r.name, r.args]));
    // purge_documents' last argument is its INOUT result, not an input
    inDatabase.purge_documents =
      inDatabase.purge_documents?.filter((a) => a !== "p_deleted") ?? [];
    expect(inTable).toEqual(inDatabase);
    expect(subjects.length, "tenants with data of every kind").toBeGreaterThan(
      1,
    );
    expect(
      registry.size,
      "codes read from docs/error-codes.md",
    ).toBeGreaterThanOrEqual(9);
  });

  describe(`${CALLS} generated bad calls as querybudget_app`, () => {
    let outcomes: Outcome[] = [];
    let changed: string[] = [];
    let tables = 0;
    const show = (list: Outcome[]) =>
      list
        .slice(0, 5)
        .map(
          (o) =>
            `${o.routine}(${o.spoiled.join(", ")}): ${o.code} ${o.message}`,
        )
        .join("\n");
    const byCode = () => {
      const counts = new Map<string, number>();
      for (const o of outcomes)
        counts.set(o.code ?? "none", (counts.get(o.code ?? "none") ?? 0) + 1);
      return counts;
    };

    beforeAll(async () => {
      const random = prng(6006);
      const before = await tableChecksums(db().sql);
      for (let i = 0; i < CALLS; i++) outcomes.push(await badCall(random));
      const after = await tableChecksums(db().sql);
      changed = Object.keys(before).filter((t) => before[t] !== after[t]);
      tables = Object.keys(before).length;
      const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
      console.log(
        `fuzz: ${outcomes.length} calls across ${new Set(outcomes.map((o) => o.routine)).size} api routines, ` +
          `${count((o) => o.code !== undefined && !registry.has(o.code))} undocumented codes, ${count((o) => o.code === undefined)} accepted, ` +
          `${count((o) => o.code !== undefined && !o.code.startsWith("QB"))} refused by the server's type input, ` +
          `${count((o) => o.code === "XX000" || !!o.code?.startsWith("23"))} internal errors or constraint violations, ${changed.length} of ${tables} tables changed ` +
          `(${[...byCode()]
            .sort()
            .map(([c, n]) => `${c} ${n}`)
            .join(", ")})`,
      );
    });

    test("every routine was called, and every code of the registry's server table and QB010 was met", () => {
      expect(outcomes.length).toBeGreaterThanOrEqual(1000);
      expect(
        new Set(outcomes.map((o) => o.routine)).size,
        "every routine was called",
      ).toBe(ROUTINES.length);
      const codes = byCode();
      for (const code of [...server.keys(), "QB010"])
        expect(codes.get(code), `calls refused with ${code}`).toBeGreaterThan(
          0,
        );
    });

    test("each is refused: none accepted, no internal error or constraint violation", () => {
      const succeeded = outcomes.filter((o) => o.code === undefined);
      const internal = outcomes.filter(
        (o) => o.code === "XX000" || o.code?.startsWith("23"),
      );
      expect(succeeded, show(succeeded)).toEqual([]);
      expect(internal, show(internal)).toEqual([]);
    });

    test("with a documented code, in the routine's contract, the one its spoiled parameter calls for", () => {
      const undocumented = outcomes.filter(
        (o) => o.code !== undefined && !registry.has(o.code),
      );
      // our codes: the routine's comment names them; the server's: the registry lists the routine for them
      const inContract = (o: Outcome) =>
        o.code!.startsWith("QB")
          ? contracts.get(o.routine)?.has(o.code!)
          : server.has(o.code!) &&
            routinesOf(server.get(o.code!)!.raisedBy, apiRoutines).has(
              o.routine,
            );
      const notInContract = outcomes.filter(
        (o) => o.code !== undefined && !inContract(o),
      );
      const wrong = outcomes.filter(
        (o) => o.code !== undefined && !o.expected.includes(o.code),
      );
      expect(undocumented, show(undocumented)).toEqual([]);
      expect(notInContract, show(notInContract)).toEqual([]);
      expect(wrong, show(wrong)).toEqual([]);
    });

    test("our messages name the one spoiled parameter", () => {
      // p_collection_id: "collection", p_tenant_id: "tenant"; the server's type-input messages
      // name the value and the type instead
      const noun = (name: string) =>
        name.replace(/^p_/, "").replace(/_ids?$/, "");
      const unclear = outcomes.filter(
        (o) =>
          o.spoiled.length === 1 &&
          o.code?.startsWith("QB") &&
          !o.message.includes(o.spoiled[0]!) &&
          !o.message.includes(noun(o.spoiled[0]!)),
      );
      expect(unclear, show(unclear)).toEqual([]);
    });

    test("nothing changed: every app table's checksum is the same after them", () => {
      expect(tables).toBeGreaterThan(0);
      expect(changed, "tables whose checksum changed").toEqual([]);
    });
  });

  test("the registry's server codes list exactly the api routines with an argument of their types", async () => {
    const rows = await db().sql<{ name: string; types: string[] }[]>`
      select p.proname as name,
             array(select case t when 'timestamptz'::regtype then 'timestamptz' else format_type(t, null) end
                   from unnest(p.proargtypes::oid[]) t) as types
      from pg_proc p where p.pronamespace = 'api'::regnamespace`;
    expect([...server.keys()].sort()).toEqual([
      "22003",
      "22007",
      "22008",
      "22021",
      "22P02",
      "54000",
    ]);
    for (const [code, { types, raisedBy }] of server) {
      const expected = rows
        .filter((r) => r.types.some((t) => types.has(t)))
        .map((r) => r.name)
        .sort();
      expect(
        [...routinesOf(raisedBy, apiRoutines)].sort(),
        `routines listed for ${code} in docs/error-codes.md`,
      ).toEqual(expected);
    }
    // and every type the fuzz table spoils has its type-input values
    const spoiledTypes = new Set(
      ROUTINES.flatMap((r) => r.params.map((p) => p.type)),
    );
    expect([...spoiledTypes].filter((t) => !TYPE_INPUT[t])).toEqual([]);
  });

  test("a nested JavaScript array, as postgres.js sends it, is refused with QB010", async () => {
    const s = subjects[0]!;
    const ids = s.documents.slice(0, 4).map(Number);
    const nested = [ids.slice(0, 2), ids.slice(2, 4)];
    expect(
      await sqlState(
        app`select api.confirm_classifications(${s.tenant}, ${nested as never})`,
      ),
    ).toBe("QB010");
    expect(
      await sqlState(
        app`select * from api.chunks_for_documents(${s.tenant}, ${s.collection}, ${nested as never})`,
      ),
    ).toBe("QB010");
  });

  test("the same valid arguments are accepted (the refusals above come from the spoiled parameter)", async () => {
    // one valid call per read-only routine, and the writing ones in a transaction rolled back
    const random = prng(6007);
    const subject = subjects[0]!;
    for (const routine of ROUTINES.filter(
      (r) =>
        !r.procedure &&
        ![
          "purge_documents_batch",
          "classify_documents",
          "confirm_classifications",
          "delete_documents",
          ...WRITE_API_ITEMS_5_TO_7,
          /* write api (w2) */ "sync_documents",
          "add_documents",
          "replace_chunks",
          "enqueue_operations",
          "claim_operations",
          "finish_operations",
          "cancel_operations",
        ].includes(r.name),
    )) {
      const args = routine.params.map((p) => p.valid(subject, random));
      await expect(call(routine, args), routine.name).resolves.toBeDefined();
    }
  });
});
