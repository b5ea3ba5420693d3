# Report generation (Allure HTML, single file, control matrix). Filled in by the evidence work.
.PHONY: report
report: ## build the HTML report from build/allure-results
	@echo "report: not built yet"
