/**
 * Reads a JSON answer for assertions. Its shape is what the test asserts, so it is left loose
 * here rather than cast at every call site.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

export async function jsonOf(res: Response | Promise<Response>): Promise<Loose> {
  return (await res).json();
}
