// REPLACEMENT (not from the package): client.js imports only the client ids and modes
// from utils/message-channel.js, which re-exports them from gateway/protocol/client-info.js.
export { GATEWAY_CLIENT_MODES, GATEWAY_CLIENT_NAMES } from "../gateway/protocol/client-info.js";
