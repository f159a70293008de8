import { readFileSync } from "node:fs";
import { CliError } from "./output";

/** Reads `--config-json` or `--config-file` (JSON, or YAML for .yaml/.yml files). */
export async function readConfig(options: { configJson?: string; configFile?: string }, what = "config"): Promise<unknown> {
  if (options.configJson !== undefined && options.configFile !== undefined) {
    throw new CliError(`give --${what}-json or --${what}-file, not both`);
  }
  if (options.configFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.configFile, "utf8");
    } catch (err) {
      throw new CliError(`cannot read --${what}-file ${options.configFile}: ${err.code ?? err.message}`);
    }
    if (/\.ya?ml$/i.test(options.configFile)) {
      const { parse } = await import("yaml");
      try {
        return parse(text);
      } catch (err) {
        throw new CliError(`--${what}-file ${options.configFile} is not valid YAML: ${err.message.split("\n")[0]}`);
      }
    }
    return parseJson(text, `--${what}-file ${options.configFile}`);
  }
  return options.configJson === undefined ? {} : parseJson(options.configJson, `--${what}-json`);
}

export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${where} is not valid JSON: ${err.message}`);
  }
}
