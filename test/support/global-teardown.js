module.exports = require('./run-tmp').teardown;
