/** MICROSEG_VERSION is microseg's own version, the default `version` of an enforcer (DESIGN §4). */
export const MICROSEG_VERSION = '3.14.0';
