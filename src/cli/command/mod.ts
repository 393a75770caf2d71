/**
 * ferry's command-line parser: {@link Command} trees with flags, operands, subcommands, help and
 * version; see `./command.ts` for the parsing rules.
 *
 * @module
 */
export {
  type AnyCommand,
  Command,
  type OptionValues,
  type OutputConfiguration,
} from "./command.ts";
export { Argument, Option, type OptionKey, type ValueParser } from "./option.ts";
