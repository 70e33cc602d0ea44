// Keyset cursors at full precision through postgres.js (docs/api.md, "Keyset paging").
//
// A cursor is the last row's created_at, selected as text (created_at::text, microseconds) and
// sent back as a timestamptz parameter (`$3::timestamptz`). Not as `$3::text::timestamptz`: on
// a Citus cluster a routed call's text-to-timestamptz cast reaches the worker as a cast from
// cstring, which it refuses (42846, docs/scaling.md). postgres.js, though, serializes every
// timestamptz parameter through a JavaScript Date (milliseconds): a string goes through
// `new Date(x).toISOString()` and loses its microseconds, and a page boundary inside one
// millisecond then skips rows. Two ways to send the text as it is:

/**
 * The `types` option of a postgres.js client (what docs/api.md shows): timestamptz parameters
 * given as strings are sent as they are; Dates as postgres.js sends them.
 */
export const EXACT_TIMESTAMPTZ_TYPES = {
  exactTimestamptz: {
    to: 1184,
    from: [] as number[],
    serialize: (x: unknown) =>
      x instanceof Date ? x.toISOString() : String(x),
    parse: (x: string) => x,
  },
};

/**
 * One value, on any postgres.js client (the workload's arguments run on many connections): a
 * Date whose ISO form is the cursor's own text. postgres.js sends a Date as a timestamptz
 * parameter, written by toISOString(). null stays null (no cursor: from the newest).
 */
export function exactTimestamptz(text: string | null): Date | null {
  if (text === null) return null;
  const value = new Date(Date.parse(text.replace(" ", "T")));
  value.toISOString = () => text;
  return value;
}
