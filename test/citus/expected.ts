// The map of the api on a Citus cluster (docs/citus.md): each workload's outcome after
// npm run distribute, as test/citus/cluster.test.ts finds it: "works", or "fails: <SQLSTATE>
// <message>", or "no subject: ..." (its arguments could not be chosen). A change in the api
// that makes a routine work on Citus (or breaks one) makes that test fail: record the new
// outcome here and in docs/citus.md.
export const EXPECTED: Record<string, string> = {};

/**
 * The api routines without p_tenant_id (DESIGN.md convention 12's listed exceptions): they
 * find their tenant otherwise (a session token) or make it (api.create_tenant), so Citus
 * cannot route them by argument; they run on the coordinator.
 */
export const TENANTLESS: readonly string[] = [
  "api.create_tenant",
  "api.revoke_session",
  "api.touch_session",
  "api.validate_session",
];
