// REPLACEMENT (not from the package): client.js imports only these two from the package's
// logger (which pulls in its whole logging stack); the test collects the lines.
export const logged = [];
export const logDebug = (message) => logged.push(`debug: ${message}`);
export const logError = (message) => logged.push(`error: ${message}`);
