"""The control frameworks the checks serve: names, titles, the text each control id points to.

PCI DSS v4.0 is published as one document (the PCI SSC document library); CIS AWS Foundations
Benchmark v3.0 likewise (the CIS benchmark page). Neither has a stable public anchor per
requirement, so each control links to its framework's document and names the requirement.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# Every requirement a check may link to, at the level the checks link, titled in our own words (a
# summary to find one's way, not the standard's text: read the standard for that). A check linking
# a requirement missing here is refused at import (conformance.checks).
TITLES = {
    "PCI-DSS-4.0:1.2.3": "An accurate network diagram shows every connection between the CDE and other networks",
    "PCI-DSS-4.0:1.2.5": "Every service, protocol and port allowed through is identified, approved and needed",
    "PCI-DSS-4.0:1.2.8": "The network security controls' configuration is kept consistent with the network in force",
    "PCI-DSS-4.0:1.3.1": "Inbound traffic to the CDE is limited to what is needed; everything else is denied",
    "PCI-DSS-4.0:1.3.2": "Outbound traffic from the CDE is limited to what is needed; everything else is denied",
    "PCI-DSS-4.0:1.4.1": "Network security controls stand between trusted and untrusted networks",
    "PCI-DSS-4.0:1.4.2": "From untrusted networks, only components offering public services can be reached",
    "PCI-DSS-4.0:1.4.4": "Components that store card data cannot be reached directly from untrusted networks",
    "PCI-DSS-4.0:2.2.1": "Configuration standards exist for every component and are implemented as written",
    "PCI-DSS-4.0:2.2.7": "Administrative access that is not at the console is encrypted with strong cryptography",
    "PCI-DSS-4.0:3.2.1": "Stored account data is kept no longer than the retention policy allows, then disposed of",
    "PCI-DSS-4.0:3.5.1": "The PAN is unreadable wherever it is stored",
    "PCI-DSS-4.0:3.6.1": "Keys that protect stored account data are guarded against disclosure and misuse",
    "PCI-DSS-4.0:3.7.1": "Key management makes keys strong when they are generated",
    "PCI-DSS-4.0:3.7.4": "Keys are changed when their cryptoperiod ends",
    "PCI-DSS-4.0:4.2.1": "Strong cryptography protects card data sent over open, public networks",
    "PCI-DSS-4.0:6.4.1": "Public-facing web applications are protected against known attacks",
    "PCI-DSS-4.0:6.5.1": "Changes to production components follow the change-control procedure",
    "PCI-DSS-4.0:7.2.1": "An access-control model grants access by need, with least privilege",
    "PCI-DSS-4.0:7.2.5": "Application and system accounts hold only the privileges they need",
    "PCI-DSS-4.0:8.3.2": "Authentication factors are unreadable in storage and in transit",
    "PCI-DSS-4.0:8.6.2": "Passwords of application and system accounts are not hard-coded in files or code",
    "PCI-DSS-4.0:8.6.3": "Passwords of application and system accounts are strong and changed periodically",
    "PCI-DSS-4.0:10.2.1": "Audit logs are enabled and active for every component and for card data",
    "PCI-DSS-4.0:10.3.1": "Only those with a job need can read audit logs",
    "PCI-DSS-4.0:10.3.3": "Audit logs are promptly copied to a central store that is hard to alter",
    "PCI-DSS-4.0:10.5.1": "Audit log history is kept twelve months, the last three at hand",
    "CIS-AWS-3.0:1.16": "No IAM policy granting full '*:*' administrative privileges is attached",
    "CIS-AWS-3.0:2.1.1": "S3 bucket policies deny requests made over plain HTTP",
    "CIS-AWS-3.0:2.1.4": "S3 buckets have Block Public Access on",
    "CIS-AWS-3.0:2.3.1": "RDS storage is encrypted at rest",
    "CIS-AWS-3.0:2.3.2": "RDS instances upgrade minor engine versions automatically",
    "CIS-AWS-3.0:2.3.3": "RDS instances are not publicly accessible",
    "CIS-AWS-3.0:3.1": "CloudTrail is on in every region",
    "CIS-AWS-3.0:3.6": "Customer-created symmetric KMS keys rotate",
    "CIS-AWS-3.0:3.7": "VPC flow logging is on in every VPC",
    "CIS-AWS-3.0:5.2": "No security group admits 0.0.0.0/0 to remote administration ports",
    "CIS-AWS-3.0:5.3": "No security group admits ::/0 to remote administration ports",
    "CIS-AWS-3.0:5.4": "The default security group of every VPC restricts all traffic",
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
