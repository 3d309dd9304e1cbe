/** Entry of the bundled `kimi-proxy.mjs`: `node kimi-proxy.mjs --config /path/proxy.json`. */
import { kimiProvider } from './kimi.js';
import { runProxy } from './main.js';

runProxy(kimiProvider);
