// Registers the resolve hook that maps k6's built-in modules to the test
// doubles in ./k6/. Used as `node --import ./test/register.mjs --test`.
import { register } from 'node:module';

register('./k6/loader.mjs', import.meta.url);
