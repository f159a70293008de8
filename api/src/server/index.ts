export { createServer, type MakoServer, type ServerOptions } from "./createServer";
export { startServer, type StartedServer, type StartServerOptions } from "./startServer";
export { ensureUiBuilt, uiDistDir } from "./ui";
