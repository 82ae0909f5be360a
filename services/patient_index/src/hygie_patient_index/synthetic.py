"""A seeded generator of French test identities: persons, and the records several
facilities hold of them, with the errors identity vigilance meets in practice.

Each person has French names (a share with particles or compound given names), a sex,
a birth date, a birth commune (INSEE code, or 99xxx for a birth abroad), a NIR with a
valid key, an address and a phone number; women are often known by a married name.
Each record of a person is what one facility registered:

- INSi-retrieved identities (RECUP/QUAL) carry the INS and exact strict traits;
- provisional ones (PROV) carry typos (AZERTY keyboard neighbours, dropped, doubled or
  swapped letters, phonetic spellings, lost accents and hyphens), the married name taken
  for the birth name, the day and month of birth swapped or a mistyped digit, only the
  first given name, an old address, and missing traits (birth place, phone, address, sex).

Twins (same names, birth date and place, other given name) are generated on purpose:
they are the collisions a matcher must not make. ``FrenchPopulation(seed=1).dataset(n)``
returns the records and the person of each; ``fhir_patient(record)`` renders one as the
FR Core Patient a facility would send.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import combinations
from typing import Any

from .domain.identity import Address, Identifier, Sex, SourceRecord, Telecom, Traits
from .domain.ins import Ins, InsKind, nir_key
from .domain.rniv import IdentityStatus

__all__ = ["Dataset", "FrenchPopulation", "Person", "fhir_patient"]

FAMILY = (
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel "
    "Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine "
    "Rousseau Vincent Muller Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier "
    "François Legrand Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu "
    "Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noël Meyer Dufour Meunier Brun "
    "Blanchard Giraud Joly Rivière Lucas Brunet Gaillard Barbier Arnaud Martinez Gérard Roche "
    "Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre Aubert Lemoine Renaud "
    "Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet Rolland Leclercq "
    "Guillaume Lecomte Lopez Jean Dupuis Guillot Hubert Berger Carpentier Sanchez Dupuis "
    "Moulin Louis Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Paris "
    "Poirier Marty Aubry Guyot Carré Charles Renault Charpentier Ménard Maillard Baron Bertin "
    "Bailly Hervé Schneider Fernandez Le_Gall Collet Léger Bouvier Julien Prévost Millet "
    "Perrot Daniel Le_Roux Cousin Germain Breton Besson Langlois Rémy Le_Goff Pelletier "
    "Lévêque Perrier Leblanc Barré Lebrun Marchal Weber Mallet Hamon Boulanger Jacob Monnier "
    "Michaud Rodriguez Guichard Gillet Étienne Grondin Poulain Tessier Chevallier Collin "
    "Chauvin Da_Silva Bouchet Gay Lemaître Bénard Maréchal Humbert Reynaud Antoine Hoarau "
    "Perret Barthélemy Cordier Pichon Lejeune Gilbert Lamy Delaunay Pasquier Carlier Laporte "
    "Nguyen Diallo Benali Haddad Traoré Mendes Dos_Santos Ferreira Rodrigues Kaya Cohen "
    "de_la_Fontaine d'Almeida de_Saint-Exupéry Le_Bihan N'Diaye O'Neill Saint-Martin "
    "Ben_Ahmed El_Idrissi Lê Vanderbeken Van_den_Berghe"
).replace("_", " ")
MALE = (
    "Jean Pierre Michel André Philippe Alain Bernard Jacques Daniel Christian Patrick "
    "Nicolas Christophe Stéphane Laurent Frédéric Éric Olivier Julien Sébastien David Thomas "
    "Alexandre Antoine Maxime Guillaume Romain Mathieu Hugo Lucas Louis Gabriel Léo Raphaël "
    "Arthur Jules Adam Mohamed Noah Ethan Théo Nathan Enzo Clément Benoît Yves Gérard René "
    "Jean-Pierre Jean-Claude Jean-Marc Jean-Luc Jean-François Pierre-Yves Marc-Antoine "
    "Joël Loïc Gaël Noé Élie François Rémi Cédric Jérôme Grégoire Aurélien Yann Karim"
)
FEMALE = (
    "Marie Nathalie Isabelle Sylvie Catherine Françoise Martine Christine Monique Nicole "
    "Valérie Sandrine Sophie Céline Stéphanie Julie Aurélie Émilie Camille Léa Manon Chloé "
    "Emma Jade Louise Alice Lina Rose Anna Inès Zoé Juliette Sarah Léna Agathe Hélène Anne "
    "Marie-Claire Marie-Thérèse Anne-Sophie Marie-Christine Marie-Hélène Marie-Laure "
    "Geneviève Jacqueline Denise Chantal Brigitte Véronique Laetitia Maëlle Noémie Océane "
    "Gaëlle Héloïse Solène Clémence Fatima Aïcha Amandine Élodie Mélanie Pauline Margaux"
)
#: INSEE commune code and a postal code of it (births and addresses).
COMMUNES = (
    ("75056", "75011", "Paris"),
    ("13055", "13005", "Marseille"),
    ("69123", "69003", "Lyon"),
    ("31555", "31000", "Toulouse"),
    ("06088", "06000", "Nice"),
    ("44109", "44000", "Nantes"),
    ("67482", "67000", "Strasbourg"),
    ("34172", "34000", "Montpellier"),
    ("33063", "33000", "Bordeaux"),
    ("59350", "59000", "Lille"),
    ("35238", "35000", "Rennes"),
    ("51454", "51100", "Reims"),
    ("76351", "76600", "Le Havre"),
    ("42218", "42000", "Saint-Étienne"),
    ("83137", "83000", "Toulon"),
    ("38185", "38000", "Grenoble"),
    ("21231", "21000", "Dijon"),
    ("49007", "49000", "Angers"),
    ("29019", "29200", "Brest"),
    ("37261", "37000", "Tours"),
    ("87085", "87000", "Limoges"),
    ("63113", "63000", "Clermont-Ferrand"),
    ("2A004", "20000", "Ajaccio"),
    ("2B033", "20200", "Bastia"),
    ("97411", "97400", "Saint-Denis"),
    ("59183", "59140", "Dunkerque"),
    ("57463", "57000", "Metz"),
    ("54395", "54000", "Nancy"),
    ("80021", "80000", "Amiens"),
    ("14118", "14000", "Caen"),
)
ABROAD = ("99350", "99139", "99351", "99352", "99134", "99127", "99109", "99243")
STREETS = (
    "rue de la Paix",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "boulevard Gambetta",
    "place de la République",
    "rue du Général de Gaulle",
    "chemin des Vignes",
    "allée des Tilleuls",
    "rue Pasteur",
    "impasse des Lilas",
)
_AZERTY = ("azertyuiop", "qsdfghjklm", "wxcvbn")
_PHONETIC = (
    ("PH", "F"),
    ("AULT", "OT"),
    ("EAU", "O"),
    ("Y", "I"),
    ("C", "K"),
    ("SS", "S"),
    ("TH", "T"),
    ("ER", "EZ"),
    ("AI", "E"),
    ("AN", "EN"),
)
_SYSTEMS = tuple(f"urn:oid:1.2.250.1.999.{i}.1" for i in range(1, 9))


def _neighbours(letter: str) -> str:
    for r, row in enumerate(_AZERTY):
        i = row.find(letter.lower())
        if i >= 0:
            near = row[max(0, i - 1) : i] + row[i + 1 : i + 2]
            near += "".join(x[i] for x in _AZERTY[max(0, r - 1) : r + 2] if x != row and i < len(x))
            return near.upper() if letter.isupper() else near
    return letter


def _strip(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Person:
    """The truth about one person (what the records are noisy copies of)."""

    key: int
    family: str
    given: tuple[str, ...]
    sex: Sex
    birth_date: date
    birth_place: str
    nir: str
    married_name: str | None
    postal_code: str
    city: str
    street: str
    phone: str


@dataclass
class Dataset:
    records: list[SourceRecord]
    person_of: dict[str, int] = field(default_factory=dict)
    """Person key of each record, by identifier value (unique across facilities)."""
    persons: dict[int, Person] = field(default_factory=dict)

    def true_pairs(self) -> set[tuple[str, str]]:
        """Pairs of identifier values of records of the same person, each sorted."""
        by_person: dict[int, list[str]] = defaultdict(list)
        for ident, person in self.person_of.items():
            by_person[person].append(ident)
        return {
            (a, b) if a < b else (b, a)
            for group in by_person.values()
            for a, b in combinations(group, 2)
        }


class FrenchPopulation:
    """Seeded: the same seed gives the same persons and records."""

    def __init__(self, *, seed: int = 1, twins: float = 0.02, error_rate: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.twins = twins
        self.error_rate = error_rate
        self._family = FAMILY.split()
        self._male = MALE.split()
        self._female = FEMALE.split()
        self._orders: dict[str, int] = defaultdict(int)

    # -- persons ---------------------------------------------------------------------

    def _nir(self, sex: Sex, born: date, place: str) -> str:
        # Overseas departments take three digits, leaving two for the commune.
        dept, commune = (place[:3], place[3:]) if place.startswith("97") else (place[:2], place[2:])
        head = f"{1 if sex is Sex.MALE else 2}{born.year % 100:02d}{born.month:02d}{dept}{commune}"
        self._orders[head] += 1
        body = head + f"{self._orders[head]:03d}"
        return body + f"{nir_key(body):02d}"

    def person(self, key: int) -> Person:
        rng = self.rng
        sex = rng.choice((Sex.MALE, Sex.FEMALE))
        names = self._male if sex is Sex.MALE else self._female
        given = tuple(rng.sample(names, rng.choice((1, 1, 2, 2, 3))))
        family = rng.choice(self._family)
        born = date(1925, 1, 1) + timedelta(days=rng.randrange(365 * 99))
        place = rng.choice(ABROAD) if rng.random() < 0.1 else rng.choice(COMMUNES)[0]
        married = (
            rng.choice(self._family)
            if sex is Sex.FEMALE and born.year < 2000 and rng.random() < 0.5
            else None
        )
        _, postal, city = rng.choice(COMMUNES)
        return Person(
            key=key,
            family=family,
            given=given,
            sex=sex,
            birth_date=born,
            birth_place=place,
            nir=self._nir(sex, born, place),
            married_name=married,
            postal_code=postal,
            city=city,
            street=f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
            phone="0" + str(rng.choice((1, 2, 3, 4, 5, 6, 7))) + f"{rng.randrange(10**8):08d}",
        )

    def twin_of(self, p: Person, key: int) -> Person:
        sex = p.sex if self.rng.random() < 0.5 else Sex(("female", "male")[p.sex is Sex.FEMALE])
        names = self._male if sex is Sex.MALE else self._female
        given = (self.rng.choice([n for n in names if n not in p.given]),)
        return Person(
            key=key,
            family=p.family,
            given=given,
            sex=sex,
            birth_date=p.birth_date,
            birth_place=p.birth_place,
            nir=self._nir(sex, p.birth_date, p.birth_place),
            married_name=None,
            postal_code=p.postal_code,
            city=p.city,
            street=p.street,
            phone=p.phone,
        )

    # -- records ---------------------------------------------------------------------

    def _typo(self, text: str) -> str:
        rng = self.rng
        if len(text) < 3:
            return text
        kind = rng.random()
        i = rng.randrange(1, len(text))
        if kind < 0.25:
            return text[:i] + rng.choice(_neighbours(text[i]) or text[i]) + text[i + 1 :]
        if kind < 0.4:
            return text[:i] + text[i + 1 :]
        if kind < 0.55:
            return text[:i] + text[i] + text[i:]
        if kind < 0.7 and i < len(text) - 1:
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        upper = text.upper()
        for a, b in rng.sample(_PHONETIC, len(_PHONETIC)):
            if a in upper:
                j = upper.index(a)
                return text[:j] + b + text[j + len(a) :]
        return _strip(text)

    def _spell(self, name: str, p_typo: float) -> str:
        rng = self.rng
        if rng.random() < p_typo * self.error_rate:
            name = self._typo(name)
        if rng.random() < 0.3:
            name = _strip(name).upper()
        if rng.random() < 0.1:
            name = name.replace("-", " ")
        return name

    def record(self, p: Person, system: str, value: str) -> SourceRecord:
        rng, e = self.rng, self.error_rate
        status = rng.choices(
            (IdentityStatus.QUAL, IdentityStatus.RECUP, IdentityStatus.VALI, IdentityStatus.PROV),
            (0.25, 0.1, 0.1, 0.55),
        )[0]
        if status is not IdentityStatus.PROV:  # INSi or identity document: exact traits
            traits = Traits(
                birth_family_name=p.family.upper(),
                birth_given_names=tuple(g.upper() for g in p.given),
                used_family_name=p.married_name.upper() if p.married_name else None,
                sex=p.sex,
                birth_date=p.birth_date,
                birth_place_code=p.birth_place,
                addresses=self._address(p),
                telecoms=self._phone(p),
            )
            ins = Ins(p.nir, InsKind.NIR.value) if status.retrieved else None
            return SourceRecord(
                id=uuid.UUID(int=rng.getrandbits(128)),
                identifier=Identifier(system, value),
                traits=traits,
                status=status,
                ins=ins,
                validation_date=date(2024, 1, 1) if status.validated else None,
            )
        family = p.family
        used = p.married_name
        if p.married_name and rng.random() < 0.15 * e:
            family, used = p.married_name, None  # the married name taken for the birth name
        given = list(p.given)
        if len(given) > 1 and rng.random() < 0.4:
            given = given[:1]
        born: date | None = p.birth_date
        roll = rng.random()
        if roll < 0.05 * e and p.birth_date.day <= 12 and p.birth_date.day != p.birth_date.month:
            born = p.birth_date.replace(day=p.birth_date.month, month=p.birth_date.day)
        elif roll < 0.12 * e:
            born = self._date_typo(p.birth_date)
        elif roll < 0.14 * e:
            born = None
        sex = p.sex if rng.random() > 0.02 * e else Sex.UNKNOWN
        traits = Traits(
            birth_family_name=self._spell(family, 0.12),
            birth_given_names=tuple(self._spell(g, 0.08) for g in given),
            used_family_name=self._spell(used, 0.05) if used and rng.random() < 0.7 else None,
            sex=sex,
            birth_date=born,
            birth_place_code=p.birth_place if rng.random() > 0.35 * e else None,
            addresses=self._address(p) if rng.random() > 0.1 * e else (),
            telecoms=self._phone(p) if rng.random() > 0.3 * e else (),
        )
        return SourceRecord(
            id=uuid.UUID(int=rng.getrandbits(128)),
            identifier=Identifier(system, value),
            traits=traits,
            status=status,
            validation_date=date(2024, 1, 1) if status.validated else None,
        )

    def _date_typo(self, born: date) -> date:
        for _ in range(10):
            digits = list(born.strftime("%Y%m%d"))
            i = self.rng.choice((2, 3, 5, 6, 7))
            digits[i] = str(self.rng.randrange(10))
            try:
                typo = date(
                    int("".join(digits[:4])), int("".join(digits[4:6])), int("".join(digits[6:]))
                )
            except ValueError:
                continue
            if typo != born and date(1900, 1, 1) <= typo <= date(2025, 12, 31):
                return typo
        return born

    def _address(self, p: Person) -> tuple[Address, ...]:
        if self.rng.random() < 0.15:  # moved since
            _, postal, city = self.rng.choice(COMMUNES)
            return (
                Address(
                    lines=(f"{self.rng.randint(1, 99)} rue Pasteur",), city=city, postal_code=postal
                ),
            )
        return (Address(lines=(p.street,), city=p.city, postal_code=p.postal_code),)

    def _phone(self, p: Person) -> tuple[Telecom, ...]:
        phone = p.phone
        if self.rng.random() < 0.05 * self.error_rate:
            i = self.rng.randrange(1, 10)
            phone = phone[:i] + str(self.rng.randrange(10)) + phone[i + 1 :]
        return (Telecom("phone", phone),)

    # -- data sets -------------------------------------------------------------------

    def persons(self, n: int) -> Iterator[Person]:
        key = 0
        while key < n:
            p = self.person(key)
            yield p
            key += 1
            if key < n and self.rng.random() < self.twins:
                yield self.twin_of(p, key)
                key += 1

    def dataset(
        self, persons: int, *, records_per_person: tuple[float, ...] = (0.55, 0.25, 0.12, 0.08)
    ) -> Dataset:
        """Records of ``persons`` persons in several facilities (IPP values unique across
        them), shuffled: the order in which they arrive."""
        out = Dataset(records=[])
        for p in self.persons(persons):
            out.persons[p.key] = p
            count = self.rng.choices(range(1, len(records_per_person) + 1), records_per_person)[0]
            for system in self.rng.sample(_SYSTEMS, count):
                value = f"{self.rng.getrandbits(40):013d}"
                while value in out.person_of:
                    value = f"{self.rng.getrandbits(40):013d}"
                record = self.record(p, system, value)
                out.records.append(record)
                out.person_of[value] = p.key
        self.rng.shuffle(out.records)
        return out


def fhir_patient(record: SourceRecord) -> dict[str, Any]:
    """The FR Core Patient a facility would send for this record (INS included when the
    identity carries one, whatever its status)."""
    from .entrypoints.fhir.render import _ins_identifier, source_resource

    body = source_resource(record.evolve(golden_id=None))
    for key in ("id", "meta", "link"):
        body.pop(key, None)
    if record.ins is not None and record.shareable_ins is None:
        body["identifier"].insert(0, _ins_identifier(record.ins))
    return body
