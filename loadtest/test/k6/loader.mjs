// A Node module-resolution hook (module.register): the bare specifiers of
// k6's built-in modules resolve to the doubles next to this file, and a
// script's relative imports (./pacing.js) resolve next to it, as k6 v1.3.0
// resolves them (js/modules/resolution.go, ModuleResolver.reversePath), with
// the importing VU's ?instance= query: k6 gives each VU its own instance of
// every module (internal/js/bundle.go Bundle.instantiate: a ModuleSystem per
// VU), so each VU of the harness gets its own copy too, module state and all.
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
  const resolved = await nextResolve(specifier, context);
  const instance = vuInstance(context.parentURL);
  if (instance !== '' && (specifier.startsWith('./') || specifier.startsWith('../'))) {
    const url = new URL(resolved.url);
    url.search = instance;
    return { ...resolved, url: url.href };
  }
  return resolved;
}

/**
 * The ?instance=N query of a module loaded for one VU (harness.mjs), or ''.
 * @param {string | undefined} parentURL
 */
function vuInstance(parentURL) {
  if (parentURL === undefined || !parentURL.startsWith('file:')) {
    return '';
  }
  const search = new URL(parentURL).search;
  return /^\?instance=\d+$/.test(search) ? search : '';
}
