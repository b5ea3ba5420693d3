"""The control frameworks the checks serve: names, titles, the text each control id points to.

PCI DSS v4.0 is published as one document (the PCI SSC document library); CIS AWS Foundations
Benchmark v3.0 likewise (the CIS benchmark page). Neither has a stable public anchor per
requirement, so each control links to its framework's document and names the requirement.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.requirements import TITLES

PCI_DSS_URL = "https://www.pcisecuritystandards.org/document_library/?category=pcidss&document=pci_dss"
CIS_AWS_URL = "https://www.cisecurity.org/benchmark/amazon_web_services"

# The principal requirements / sections each control sits under (the documents' own headings).
PCI_DSS_REQUIREMENTS = {
    "1": "Install and Maintain Network Security Controls",
    "2": "Apply Secure Configurations to All System Components",
    "3": "Protect Stored Account Data",
    "4": "Protect Cardholder Data with Strong Cryptography During Transmission Over Open, Public Networks",
    "5": "Protect All Systems and Networks from Malicious Software",
    "6": "Develop and Maintain Secure Systems and Software",
    "7": "Restrict Access to System Components and Cardholder Data by Business Need to Know",
    "8": "Identify Users and Authenticate Access to System Components",
    "9": "Restrict Physical Access to Cardholder Data",
    "10": "Log and Monitor All Access to System Components and Cardholder Data",
    "11": "Test Security of Systems and Networks Regularly",
    "12": "Support Information Security with Organizational Policies and Programs",
}
CIS_AWS_SECTIONS = {
    "1": "Identity and Access Management",
    "2": "Storage",
    "3": "Logging",
    "4": "Monitoring",
    "5": "Networking",
}


@dataclass(frozen=True)
class Control:
    id: str  # as declared by the checks, e.g. "PCI-DSS-4.0:3.5.1"
    framework: str  # "PCI DSS v4.0" / "CIS AWS Foundations Benchmark v3.0"
    number: str  # "3.5.1"
    heading: str  # the principal requirement or section it sits under
    document: str
    title: str = ""  # the sub-requirement itself, in our words (TITLES)

    @property
    def url(self) -> str:
        """The framework's document, with the requirement as fragment (one distinct link per control)."""
        return f"{self.document}#{self.id.split(':', 1)[0].lower()}-{self.number}"

    @property
    def label(self) -> str:
        short = "PCI DSS v4.0" if self.id.startswith("PCI") else "CIS AWS v3.0"
        return f"{short} {self.number}"

    @property
    def sort_key(self) -> tuple[int, tuple[int, ...]]:
        return (0 if self.id.startswith("PCI") else 1, tuple(int(p) for p in self.number.split(".") if p.isdigit()))


def control(control_id: str) -> Control:
    family, _, number = control_id.partition(":")
    top = number.split(".", 1)[0]
    if family.startswith("PCI-DSS"):
        heading = PCI_DSS_REQUIREMENTS.get(top, "")
        return Control(control_id, "PCI DSS v4.0", number, heading, PCI_DSS_URL, TITLES.get(control_id, ""))
    heading, title = CIS_AWS_SECTIONS.get(top, ""), TITLES.get(control_id, "")
    return Control(control_id, "CIS AWS Foundations Benchmark v3.0", number, heading, CIS_AWS_URL, title)
