/** Entry of the bundled `mistral-proxy.mjs`: `node mistral-proxy.mjs --config /path/proxy.json`. */
import { mistralProvider } from './mistral.js';
import { runProxy } from './main.js';

runProxy(mistralProvider);
