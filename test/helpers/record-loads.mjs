// `node --import ./test/helpers/record-loads.mjs ...`: append the URL of every module the process
// loads to the file named by TSN_LOAD_LOG (module.register hooks run on their own thread).
import { register } from 'node:module';

register('./record-loads-hooks.mjs', import.meta.url);
