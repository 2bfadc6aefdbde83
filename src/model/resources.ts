import type { Model, Resource } from './types';

/** allResources lists every resource of a model, type by type in the Model's field order. */
export function allResources(model: Model): Resource[] {
  return [
    ...model.namespaces,
    ...model.enforcers,
    ...model.enforcerProfiles,
    ...model.processingUnits,
    ...model.externalNetworks,
    ...model.networkPolicies,
    ...model.enforcerTokens,
    ...model.expects,
  ];
}
