// The parts of the docs generated from the code, so they are typed once: in docs/budgets.md,
// the budget table and the table of workloads whose 1M / 10k ratio is not asserted, both from
// the workload (scripts/lib/workload.ts); and docker/querybudget.conf, the container image's
// settings, whole, from scripts/lib/server-settings.ts. Each part sits between `<!-- generated: <name> -->`
// and `<!-- end generated -->`; `npm run docs:generate` (scripts/generate-docs.ts) rewrites it,
// test/docs-generated.test.ts fails when a committed doc differs from what it would write.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { imageConf } from "./server-settings.ts";
import { ROOT } from "./sql-files.ts";
import {
  BULK_IDS,
  measuredBuffersFile,
  PURGE_BUDGET_BATCH,
  PURGE_PLAN_BATCH,
  WORKLOAD,
  type PartitionExpectation,
  type TierName,
  type WorkloadDefinition,
} from "./workload.ts";

/** The buffers per call measured by the last `npm run plans:accept`. */
function measuredBuffers(w: WorkloadDefinition): Record<TierName, number> {
  const all = JSON.parse(readFileSync(measuredBuffersFile(), "utf8")) as Record<
    string,
    Record<TierName, number>
  >;
  const found = all[w.name];
  if (!found)
    throw new Error(
      `no buffers of ${w.name} in test/plans/buffers.json: run npm run plans:accept`,
    );
  return found;
}

export const END_MARKER = "<!-- end generated -->";
export const startMarker = (name: string) => `<!-- generated: ${name} -->`;

const count = (n: number) => n.toLocaleString("en-US");
const code = (name: string) => `\`${name.replace(/^app\./, "")}\``;
const capitalized = (text: string) =>
  text.charAt(0).toUpperCase() + text.slice(1);

function table(
  header: string[],
  align: ("l" | "r")[],
  rows: string[][],
): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(header),
    line(align.map((a) => (a === "r" ? "---:" : "---"))),
    ...rows.map(line),
  ].join("\n");
}

function workloadCell(w: WorkloadDefinition): string {
  if (w.kind === "procedure")
    return `${code(w.name)} (per batch of ${PURGE_PLAN_BATCH})`;
  return w.idsArg !== undefined
    ? `${code(w.name)} (${BULK_IDS} ids)`
    : code(w.name);
}

function partitionText(p: PartitionExpectation): string {
  const table = p.table.replace(/^app\./, "");
  const text = {
    one: `one ${table} partition`,
    "one per probe": `one ${table} partition per probe`,
    some: `${table} partitions pruned`,
  }[p.rule];
  return p.tiers?.length === 1 ? `${text} (${p.tiers[0]})` : text;
}

function intendedCell(w: WorkloadDefinition): string {
  const indexes = w.intendedIndexes
    .map((ix) => `${code(ix)}${w.smallAt10k?.includes(ix) ? " (1M)" : ""}`)
    .join(", ");
  return [indexes, ...(w.partitions ?? []).map(partitionText)].join("; ");
}

function ratioCell(w: WorkloadDefinition): string {
  const measured = measuredBuffers(w);
  const ratio = measured["1M"] / measured["10k"];
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}${ratio > 2 ? " ✗" : ""}`;
}

/** docs/budgets.md, "Budgets": per workload its intended indexes, buffers measured (budget) per tier, their ratio, p95 at 1M. */
export function budgetTable(
  workload: readonly WorkloadDefinition[] = WORKLOAD,
): string {
  return table(
    [
      "workload",
      "intended index (plan test)",
      "buffers 10k (budget)",
      "buffers 1M (budget)",
      "1M / 10k",
      "p95 at 1M",
    ],
    ["l", "l", "r", "r", "r", "r"],
    workload.map((w) => [
      workloadCell(w),
      intendedCell(w),
      `${count(measuredBuffers(w)["10k"])} (${count(w.buffers["10k"])})`,
      `${count(measuredBuffers(w)["1M"])} (${count(w.buffers["1M"])})`,
      ratioCell(w),
      w.kind === "procedure"
        ? `per batch of ${PURGE_BUDGET_BATCH}: ${w.measuredP95Ms} ms`
        : `${w.measuredP95Ms} ms`,
    ]),
  );
}

/** docs/budgets.md, "The 1M / 10k target": the workloads whose ratio is reported, not asserted, and why. */
export function ratioExemptionTable(
  workload: readonly WorkloadDefinition[] = WORKLOAD,
): string {
  return table(
    ["workload", "why not"],
    ["l", "l"],
    workload
      .filter((w) => !w.ratioAsserted)
      .map((w) => [
        `\`${w.name}\``,
        `${capitalized(w.ratioNote ?? "(no ratioNote in the workload)")}.`,
      ]),
  );
}

/**
 * Each generated doc: its path under the repository and either its parts by marker name or,
 * for a file that is generated whole (docker/querybudget.conf), its whole text.
 */
export const GENERATED_DOCS: (
  | { path: string; parts: Record<string, () => string> }
  | { path: string; whole: () => string }
)[] = [
  {
    path: "docs/budgets.md",
    parts: {
      budgets: () => budgetTable(),
      "ratio-exemptions": () => ratioExemptionTable(),
    },
  },
  // the container image's settings, from the same lists as the local cluster's
  { path: "docker/querybudget.conf", whole: imageConf },
];

/** The text with each part between its markers replaced by `parts[name]()`; every part's markers must be there. */
export function renderGenerated(
  text: string,
  parts: Record<string, () => string>,
): string {
  let out = text;
  for (const [name, render] of Object.entries(parts)) {
    const start = out.indexOf(startMarker(name));
    const end = start < 0 ? -1 : out.indexOf(END_MARKER, start);
    if (start < 0 || end < 0)
      throw new Error(`no ${startMarker(name)} ... ${END_MARKER} in the text`);
    out = `${out.slice(0, start)}${startMarker(name)}\n${render()}\n${out.slice(end)}`;
  }
  return out;
}

/** Every generated doc as committed and as it would be generated now. */
export function generatedDocs(): {
  path: string;
  file: string;
  committed: string;
  generated: string;
}[] {
  return GENERATED_DOCS.map((doc) => {
    const file = join(ROOT, doc.path);
    const committed = existsSync(file) ? readFileSync(file, "utf8") : "";
    return {
      path: doc.path,
      file,
      committed,
      generated:
        "whole" in doc ? doc.whole() : renderGenerated(committed, doc.parts),
    };
  });
}
