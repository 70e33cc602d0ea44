/** The SQLSTATE a query fails with, or undefined when it succeeds. */
export async function sqlState(
  query: Promise<unknown>,
): Promise<string | undefined> {
  try {
    await query;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}
