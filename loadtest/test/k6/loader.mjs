// A Node module-resolution hook (module.register): the bare specifiers of
// k6's built-in modules resolve to the doubles next to this file.
const doubles = {
  k6: './k6.mjs',
  'k6/http': './http.mjs',
  'k6/metrics': './metrics.mjs',
  'k6/execution': './execution.mjs',
};

export async function resolve(specifier, context, nextResolve) {
  if (Object.hasOwn(doubles, specifier)) {
    return { url: new URL(doubles[specifier], import.meta.url).href, shortCircuit: true };
  }
  if (specifier === 'k6' || specifier.startsWith('k6/')) {
    throw new Error(`no test double for k6 module ${specifier}: add one in loadtest/test/k6/`);
  }
  return nextResolve(specifier, context);
}
