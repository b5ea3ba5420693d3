# Report generation: Allure HTML (+ single file), trend history, control matrix (docs/report.md).
# The report tool is the npm package allure-commandline, pinned by package-lock.json and
# installed by `npm ci`; it runs on Java 17 (Debian's openjdk-17-jre-headless when missing).
# The browser self-test uses Debian's chromium (never a downloaded browser build).
.PHONY: report report-tools browser

NPM        ?= npm
ALLURE_BIN := node_modules/.bin/allure
REPORT_DIR := build/report

# apt-get install, as root or through sudo, once per machine
APT_GET = $(if $(filter 0,$(shell id -u)),,sudo )apt-get

node_modules/.installed: package.json package-lock.json
	@command -v $(NPM) >/dev/null || { $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq nodejs npm; }
	$(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

.java-ok:
	@java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])' || { \
	  echo "report: Java 17+ missing; installing Debian's openjdk-17-jre-headless"; \
	  $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq openjdk-17-jre-headless; }

report-tools: node_modules/.installed .java-ok ## install the pinned report tool (npm ci) and Java 17 if missing

browser: ## install Debian's chromium for the report's browser self-test (if missing)
	@test -x /usr/bin/chromium || { $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium; }

report: suite report-tools ## build build/report/{html,single}/ and the control matrix from build/allure-results
	$(PY) -m conformance.report --results build/allure-results --out $(REPORT_DIR)

.PHONY: .java-ok
