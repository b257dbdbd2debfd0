#!/usr/bin/env node
console.log('flowpool: under construction');
