/** The human view of `microseg import` (JSON: the ImportResult's `imported` record as it is). */
import type { ImportResult } from '../../apply';
import type { Io } from '../io';

export function renderImportHuman(io: Io, enforcer: string, imported: NonNullable<ImportResult['imported']>, where: string): void {
  const lines = [`Imported enforcer.${enforcer} into ${where} (serial ${imported.serial}): ${imported.owned}, recorded as it is on the host.`];
  if (imported.resources_recorded) {
    lines.push('Every configured host now matches the configuration, so its resources were recorded as applied: the next plan has nothing to do.');
  } else {
    lines.push(
      `The configuration's resources were not recorded as applied, because ${imported.hosts_not_in_sync.join(', ')} ` +
        `${imported.hosts_not_in_sync.length === 1 ? 'is' : 'are'} not recorded or not as configured; the next apply records them.`,
    );
  }
  if (imported.host_action !== 'noop') lines.push(`enforcer.${enforcer} differs from the configuration: \`microseg plan\` shows how.`);
  io.out(lines.join('\n') + '\n');
}
