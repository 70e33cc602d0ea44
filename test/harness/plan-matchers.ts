// Plan matchers for vitest (docs/plans.md). Import this file for its side effect:
//   import "./harness/plan-matchers.ts";
//   expect(await explain(sql, q, [id])).toUseIndex("app.documents_pkey");
// A plan is one plan tree, one EXPLAIN result, or the statements of a call (explainFunction),
// and then the matcher looks across all of them. Failure messages show the plan (renderPlan).
import { expect } from "vitest";
import {
  indexNodes,
  partitionsScanned,
  renderPlan,
  sameName,
  seqScans,
  sharedBuffers,
  type PartitionScan,
  type PlanInput,
} from "../../scripts/lib/plan/index.ts";

export interface SeqScanOptions {
  /** Ignore Seq Scans of relations with fewer rows than this (pg_class.reltuples): small tables may rightly be read whole. */
  minRows?: number;
}

interface PlanMatchers<R = unknown> {
  /** An Index Scan, Index Only Scan or Bitmap Index Scan on the index; a partition's index counts as its parent's. With or without schema. */
  toUseIndex(index: string): R;
  /** A Seq Scan on the table (or on any of its partitions); without a table, on any table. */
  toSeqScan(table?: string, options?: SeqScanOptions): R;
  /** At most `max` (default 1) partitions scanned of the table, or of every partitioned table in the plan. */
  toPrunePartitions(table?: string, max?: number): R;
  /** Exactly n partitions scanned of the table (which may be left out when the plan reads one partitioned table). */
  toScanPartitions(n: number, table?: string): R;
  /** Shared buffers hit + read at most n (for a call: the top-level statement's, which include the nested ones). */
  toStayWithinBuffers(n: number): R;
}

declare module "vitest" {
  interface Assertion<T = any> extends PlanMatchers<T> {}
  interface AsymmetricMatchersContaining extends PlanMatchers {}
}

function isPlanInput(value: unknown): value is PlanInput {
  const items = Array.isArray(value) ? value : [value];
  return (
    items.length > 0 &&
    items.every(
      (item) =>
        typeof item === "object" &&
        item !== null &&
        ("nodeType" in item ||
          ("plan" in item && typeof item.plan === "object")),
    )
  );
}

function checked(received: unknown): PlanInput {
  if (!isPlanInput(received))
    throw new TypeError(
      "expected a plan: a PlanNode, an explain() result, or explainFunction() statements",
    );
  return received;
}

/** What was expected, what was found, then the plan. */
function report(
  isNot: boolean,
  expectation: string,
  found: string,
  plan: PlanInput,
): () => string {
  return () =>
    `expected the plan ${isNot ? "not " : ""}${expectation}\n${found}\n\nplan:\n${renderPlan(plan)}`;
}

const describePartitions = (scans: PartitionScan[]) =>
  scans.length === 0
    ? "found: no partitioned table"
    : scans
        .map(
          (s) =>
            `found: ${s.table}: ${s.scanned.length} of ${s.total ?? "?"} partitions scanned (${s.inPlan.length} in the plan, ${s.subplansRemoved} removed at executor start)${s.scanned.length ? `: ${s.scanned.join(", ")}` : ""}`,
        )
        .join("\n");

expect.extend({
  toUseIndex(received: unknown, index: string) {
    const plan = checked(received);
    const users = indexNodes(plan).filter(
      (n) => sameName(n.rootIndex, index) || sameName(n.index, index),
    );
    const used = [
      ...new Set(indexNodes(plan).map((n) => n.rootIndex ?? n.index)),
    ].sort();
    return {
      pass: users.length > 0,
      message: report(
        this.isNot,
        `to use index ${index}`,
        `indexes used: ${used.length ? used.join(", ") : "none"}`,
        plan,
      ),
    };
  },

  toSeqScan(received: unknown, table?: string, options: SeqScanOptions = {}) {
    const plan = checked(received);
    const scans = seqScans(plan).filter(
      (s) =>
        (table === undefined ||
          sameName(s.table, table) ||
          sameName(s.relation, table)) &&
        (options.minRows === undefined ||
          s.tuples === undefined ||
          s.tuples < 0 ||
          s.tuples >= options.minRows),
    );
    const what = `${table ?? "any table"}${options.minRows !== undefined ? ` of at least ${options.minRows} rows` : ""}`;
    const found = scans.length
      ? `seq scans: ${scans.map((s) => `${s.relation} (${s.tuples ?? "?"} rows)`).join(", ")}`
      : "seq scans: none";
    return {
      pass: scans.length > 0,
      message: report(this.isNot, `to seq scan ${what}`, found, plan),
    };
  },

  toPrunePartitions(received: unknown, table?: string, max = 1) {
    const plan = checked(received);
    const scans = partitionsScanned(plan, table);
    const pass =
      scans.length > 0 && scans.every((s) => s.scanned.length <= max);
    return {
      pass,
      message: report(
        this.isNot,
        `to scan at most ${max} partition(s) of ${table ?? "each partitioned table"}`,
        describePartitions(scans),
        plan,
      ),
    };
  },

  toScanPartitions(received: unknown, n: number, table?: string) {
    const plan = checked(received);
    const scans = partitionsScanned(plan, table);
    const pass = scans.length === 1 && scans[0]!.scanned.length === n;
    const found =
      !table && scans.length > 1
        ? `${describePartitions(scans)}\n(several partitioned tables: name one)`
        : describePartitions(scans);
    return {
      pass,
      message: report(
        this.isNot,
        `to scan exactly ${n} partition(s) of ${table ?? "its partitioned table"}`,
        found,
        plan,
      ),
    };
  },

  toStayWithinBuffers(received: unknown, n: number) {
    const plan = checked(received);
    const buffers = sharedBuffers(plan);
    return {
      pass: buffers.total <= n,
      message: report(
        this.isNot,
        `to stay within ${n} shared buffers`,
        `found: ${buffers.total} (hit ${buffers.hit}, read ${buffers.read})`,
        plan,
      ),
    };
  },
});
