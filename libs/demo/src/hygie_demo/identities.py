"""Synthetic French identities: names, INSEE birth places, NIR with a valid control key,
and the registration errors real admission desks make.

Every value comes from a ``random.Random`` the caller seeds, so a seed gives the same
people every time.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta

__all__ = [
    "Identity",
    "corrupt_nir",
    "make_identity",
    "make_twin",
    "nir_key",
    "registration_error",
]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FAMILY_NAMES: tuple[str, ...] = (
    *_words(
        "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel "
        "Lefèvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine "
        "Rousseau Vincent Muller Faure André Mercier Blanc Guérin Boyer Garnier Chevalier "
        "François Legrand Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel "
        "Mathieu Masson Marchand Duval Denis Dumont Lemaire Noël Meyer Dufour Meunier Brun "
        "Blanchard Giraud Joly Rivière Lucas Brunet Gaillard Barbier Arnaud Martinez Gérard Roche "
        "Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre Aubert Lemoine Renaud "
        "Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet Rolland "
        "Guillaume Lecomte Lopez Dupuy Guillot Hubert Berger Carpentier Sanchez Dupuis Moulin "
        "Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Poirier Marty Aubry "
        "Guyot Carré Renault Charpentier Ménard Maillard Baron Bertin Bailly Hervé Schneider "
        "Fernandez Collet Léger Bouvier Julien Prévost Millet Perrot Cousin Germain Breton Besson "
        "Langlois Rémy Pelletier Lévêque Leblanc Barré Lebrun Weber Hamon Boulanger Jacob Monnier "
        "Michaud Guichard Gillet Étienne Grondin Poulain Tessier Chauvin Bouchet Humbert Reynaud "
        "Hoarau Perret Barthélemy Cordier Pichon Lejeune Delaunay N'Diaye "
    ),
    "Le Gall",
    "Le Goff",
    "Da Silva",
    "Le Roux",
    "Dos Santos",
    "Ben Ali",
)
MALE_NAMES: tuple[str, ...] = (
    *_words(
        "Jean Pierre Michel André Philippe Alain Bernard Jacques Daniel Patrick Nicolas "
        "Christophe Stéphane Julien Thomas Lucas Hugo Louis Gabriel Arthur Jules Léo Mohamed "
        "Karim Yannick Jean-Pierre Jean-Marc François Olivier Sébastien Éric Laurent Frédéric "
        "David Maxime Antoine Mathis Nathan Théo Raphaël Gérard Roger Marcel René "
    ),
)
FEMALE_NAMES: tuple[str, ...] = (
    *_words(
        "Marie Jeanne Françoise Monique Catherine Nathalie Isabelle Sylvie Martine Christine "
        "Sophie Sandrine Céline Julie Camille Léa Manon Chloé Emma Jade Louise Alice Inès Fatima "
        "Aurélie Émilie Marie-Claude Anne-Sophie Élodie Hélène Valérie Véronique Brigitte Nicole "
        "Chantal Lina Zoé Mila Ambre Rose Yvette Simone Odette Germaine "
    ),
)
#: (INSEE code of the commune of birth, its name, its postal code) — Paris, Lyon and
#: Marseille by arrondissement, as the NIR and the INS write them
BIRTH_PLACES = (
    ("75112", "Paris 12e", "75012"),
    ("75115", "Paris 15e", "75015"),
    ("75118", "Paris 18e", "75018"),
    ("69383", "Lyon 3e", "69003"),
    ("69387", "Lyon 7e", "69007"),
    ("13205", "Marseille 5e", "13005"),
    ("31555", "Toulouse", "31000"),
    ("33063", "Bordeaux", "33000"),
    ("59350", "Lille", "59000"),
    ("44109", "Nantes", "44000"),
    ("67482", "Strasbourg", "67000"),
    ("35238", "Rennes", "35000"),
    ("34172", "Montpellier", "34000"),
    ("06088", "Nice", "06000"),
    ("21231", "Dijon", "21000"),
    ("63113", "Clermont-Ferrand", "63000"),
    ("76540", "Rouen", "76000"),
    ("29019", "Brest", "29200"),
    ("87085", "Limoges", "87000"),
    ("38185", "Grenoble", "38000"),
    ("42218", "Saint-Étienne", "42000"),
    ("2A004", "Ajaccio", "20000"),
    ("97411", "Saint-Denis (La Réunion)", "97400"),
)
#: born abroad: INSEE code 99 + country (Maroc, Algérie, Tunisie, Portugal, Italie, Espagne)
FOREIGN_BIRTH = ("99350", "99352", "99351", "99139", "99127", "99134")
#: where the demo hospital's patients live (city, postal code)
HOME_TOWNS = (
    ("Lyon", "69003"),
    ("Lyon", "69008"),
    ("Villeurbanne", "69100"),
    ("Vénissieux", "69200"),
    ("Bron", "69500"),
    ("Caluire-et-Cuire", "69300"),
    ("Vaulx-en-Velin", "69120"),
    ("Oullins", "69600"),
)
STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "boulevard des Belges",
    "rue Paul Bert",
    "cours Lafayette",
    "rue Garibaldi",
    "avenue Berthelot",
)


@dataclass(frozen=True)
class Identity:
    """A person as an admission desk records them (traits of the RNIV)."""

    birth_family_name: str
    given_names: tuple[str, ...]
    sex: str  # "male" | "female"
    birth_date: date
    birth_place_code: str | None
    nir: str
    used_family_name: str | None = None
    city: str = ""
    postal_code: str = ""
    street: str = ""
    phone: str = ""

    @property
    def display(self) -> str:
        return f"{self.given_names[0]} {self.used_family_name or self.birth_family_name}"


def _numeric(body: str) -> int:
    """The NIR body as a number: Corsica 2A/2B is read as 19/18 (INSEE rule)."""
    return int(body.replace("2A", "19").replace("2B", "18"))


def nir_key(body: str) -> int:
    """Control key of a 13-character NIR body: 97 - (body mod 97)."""
    return 97 - (_numeric(body) % 97)


def _nir(rng: random.Random, sex: str, birth: date, place: str) -> str:
    sex_digit = "1" if sex == "male" else "2"
    body = f"{sex_digit}{birth.year % 100:02d}{birth.month:02d}{place}{rng.randint(1, 999):03d}"
    return f"{body}{nir_key(body):02d}"


def corrupt_nir(nir: str) -> str:
    """The same NIR with a wrong control key (a typo at the desk)."""
    body, key = nir[:13], int(nir[13:])
    return f"{body}{(key % 97) + 1:02d}"


def make_identity(rng: random.Random, *, today: date) -> Identity:
    """A plausible patient of a Lyon hospital: age skewed to the elderly, as in wards."""
    sex = rng.choice(("male", "female"))
    age = min(max(int(rng.triangular(0, 100, 72)), 0), 99)
    birth = today - timedelta(days=age * 365 + rng.randint(0, 364))
    names = MALE_NAMES if sex == "male" else FEMALE_NAMES
    given = [rng.choice(names)]
    if rng.random() < 0.4:
        second = rng.choice(names)
        if second != given[0]:
            given.append(second)
    family = rng.choice(FAMILY_NAMES)
    used = None
    if sex == "female" and age >= 25 and rng.random() < 0.45:
        used = rng.choice(FAMILY_NAMES)
    abroad = rng.random() < 0.08
    place = rng.choice(FOREIGN_BIRTH) if abroad else rng.choice(BIRTH_PLACES)[0]
    city, postal = rng.choice(HOME_TOWNS)
    return Identity(
        birth_family_name=family,
        given_names=tuple(given),
        sex=sex,
        birth_date=birth,
        birth_place_code=place,
        nir=_nir(rng, sex, birth, place),
        used_family_name=used,
        city=city,
        postal_code=postal,
        street=f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
        phone=f"0{rng.choice((4, 6, 7))}{rng.randint(10_000_000, 99_999_999)}",
    )


def make_twin(rng: random.Random, person: Identity) -> Identity:
    """A twin: same family name, birth date and place, another first name and NIR — the
    classic pair identity vigilance must keep apart."""
    sex = rng.choice(("male", "female"))
    names = [
        n for n in (MALE_NAMES if sex == "male" else FEMALE_NAMES) if n not in person.given_names
    ]
    return replace(
        person,
        given_names=(rng.choice(names),),
        sex=sex,
        used_family_name=None,
        nir=_nir(rng, sex, person.birth_date, person.birth_place_code or "99100"),
        phone=f"0{rng.choice((6, 7))}{rng.randint(10_000_000, 99_999_999)}",
    )


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _typo(rng: random.Random, name: str) -> str:
    if len(name) < 4:
        return name + name[-1]
    i = rng.randint(1, len(name) - 2)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == "drop":
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i] + name[i:]


#: the registration errors of identity vigilance reports, with the share of duplicates
#: each accounts for in the demo
ERRORS = (
    "family-name-typo",
    "accents-lost",
    "day-month-swapped",
    "used-name-as-birth-name",
    "second-given-name-only",
    "birth-place-missing",
)


def registration_error(rng: random.Random, person: Identity) -> tuple[str, Identity]:
    """The same person registered again with one typical error; (error kind, identity)."""
    kind = rng.choice(ERRORS)
    if kind == "family-name-typo":
        return kind, replace(person, birth_family_name=_typo(rng, person.birth_family_name))
    if kind == "accents-lost":
        stripped = _strip_accents(person.birth_family_name).upper()
        given = tuple(_strip_accents(g).upper() for g in person.given_names)
        return kind, replace(person, birth_family_name=stripped, given_names=given)
    if kind == "day-month-swapped":
        b = person.birth_date
        if b.day <= 12 and b.day != b.month:
            return kind, replace(person, birth_date=b.replace(month=b.day, day=b.month))
        return "family-name-typo", replace(
            person, birth_family_name=_typo(rng, person.birth_family_name)
        )
    if kind == "used-name-as-birth-name" and person.used_family_name:
        return kind, replace(person, birth_family_name=person.used_family_name)
    if kind == "second-given-name-only" and len(person.given_names) > 1:
        return kind, replace(person, given_names=person.given_names[1:])
    return "birth-place-missing", replace(person, birth_place_code=None)
