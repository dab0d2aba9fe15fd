import { readActionYml } from '../harness/run-action.ts';

/** action.yml's defaults with `overrides` on top, as the runner would hand them to getInput. */
export async function inputReader(overrides: Record<string, string>): Promise<(name: string) => string> {
  const { inputs } = await readActionYml();
  const values: Record<string, string> = {};
  for (const [name, spec] of Object.entries(inputs)) {
    values[name] = (spec.default ?? '').replace('${{ github.token }}', 'ghs_token').trim();
  }
  Object.assign(values, overrides);
  return (name) => {
    if (!(name in values)) throw new Error(`action.yml has no input '${name}'`);
    return (values[name] ?? '').trim();
  };
}
