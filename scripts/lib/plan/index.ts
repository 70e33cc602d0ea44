// The plan library: docs/plans.md.
export * from "./types.ts";
export {
  parsePlanNode,
  parseExplainJson,
  parseAutoExplainNotice,
  walk,
  roots,
  allNodes,
} from "./parse.ts";
export {
  explain,
  explainFunction,
  pinPlannerSettings,
  resolveNames,
  enableAutoExplain,
  disableAutoExplain,
  AUTO_EXPLAIN_SETTINGS,
  PINNED_PLANNER_SETTINGS,
} from "./explain.ts";
export type {
  Queryable,
  ExplainOptions,
  ExplainFunctionOptions,
  AutoExplainOptions,
} from "./explain.ts";
export * from "./analyze.ts";
export { renderPlan, fingerprint } from "./render.ts";
