module.exports = require('./run-tmp').setup;
