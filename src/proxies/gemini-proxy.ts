/** Entry of the bundled `gemini-proxy.mjs`: `node gemini-proxy.mjs --config /path/proxy.json`. */
import { geminiProvider } from './gemini.js';
import { runProxy } from './main.js';

runProxy(geminiProvider);
