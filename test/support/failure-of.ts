/** What `work` throws, or undefined when it returns: for tests that look at the error's class and fields. */
export function failureOf(work: () => unknown): unknown {
  try {
    work();
  } catch (err) {
    return err;
  }
  return undefined;
}
