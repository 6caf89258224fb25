// Package e2e holds Mezzo's end-to-end tests: they build the mezzo binary,
// start real `mezzo master` and `mezzo agent` processes on loopback, and
// drive them the way users and frameworks do — `mezzo execute`, the example
// test-framework, raw HTTP against the v1 APIs, and a framework's own
// executor written for Mesos.
package e2e
