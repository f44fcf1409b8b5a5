/**
 * `tsnet-switch completion bash|zsh`: a completion script written from the command tree itself, so
 * every subcommand and option anyone registers is completed without editing this file. The script
 * holds one table: for each command path ("network create"), the words that may follow it
 * (subcommands, then options); the shell function walks the typed words down that table.
 */
import type { Command } from 'commander';

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** Command path ("" for the program) -> the words that may follow it. */
export function completionTable(program: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const visit = (cmd: Command, path: string) => {
    const subs = cmd.commands.map((c) => c.name());
    const opts = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
    table.set(path, [...subs, ...opts, '--help']);
    for (const c of cmd.commands) visit(c, path ? `${path} ${c.name()}` : c.name());
  };
  visit(program, '');
  return table;
}

export function completionScript(program: Command, shell: CompletionShell): string {
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
  const table = completionTable(program);
  const cases = [...table.entries()].map(([path, words]) => `    "${path}") next="${words.join(' ')}" ;;`).join('\n');
  // Both shells (zsh's $words and $path are its own, hence other names): find the longest command path among the words typed so far, offer what may follow it.
  const walk = (wordsVar: string, last: string) => `  local cmdpath="" w next cand
  for w in ${wordsVar}; do
    case "$w" in -*) continue ;; esac
    if [ -z "$cmdpath" ]; then cand="$w"; else cand="$cmdpath $w"; fi
    case "$cand" in
${[...table.keys()].filter((k) => k).map((k) => `      "${k}") cmdpath="$cand" ;;`).join('\n')}
    esac
  done
  case "$cmdpath" in
${cases}
    *) next="" ;;
  esac
  ${last}`;
  if (shell === 'bash') {
    return `# bash completion for ${name}; load with: source <(${name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
${walk('"${COMP_WORDS[@]:1:COMP_CWORD-1}"', 'COMPREPLY=( $(compgen -W "$next" -- "$cur") )')}
}
complete -o default -F ${fn} ${name}
`;
  }
  return `#compdef ${name}
# zsh completion for ${name}; load with: source <(${name} completion zsh)
${fn}() {
${walk('"${(@)words[2,CURRENT-1]}"', 'local -a choices; choices=(${=next}); compadd -- $choices')}
}
compdef ${fn} ${name}
`;
}
