// What the test page loads besides larix itself (which comes from the library bundle, larix.js): the backend
// compliance suite and the history scenario, bundled for the browser by scripts/build-browser.js.
export { backendCases } from '../backend-suite.js'
export { scenarioOptions, writeHistory, summarize } from './scenario.js'
