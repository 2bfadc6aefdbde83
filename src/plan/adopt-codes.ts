/**
 * Stable diagnostic codes of adopting hosts into state (MSEG8250–8259): the plan's warning that a
 * host holds microseg objects the state knows nothing about, and `microseg import`.
 */
export const AdoptCodes = {
  /**
   * A configured enforcer's host already holds microseg objects, but the state in use has no record
   * of it: that state may not be the one that applied them (another backend or workspace).
   * Distinct from orphans, which are unclaimed objects on a host the state does know.
   */
  stateElsewhere: 'MSEG8250',
  /** `import` names an enforcer the configuration does not declare. */
  importUnknownEnforcer: 'MSEG8251',
  /** `import` found nothing of microseg's on the host: there is nothing to adopt. */
  importNothingOwned: 'MSEG8252',
  /** `import` names an enforcer the state already records. */
  importAlreadyInState: 'MSEG8253',
  /** `import` could not read the host. */
  importUnreadable: 'MSEG8254',
} as const;
