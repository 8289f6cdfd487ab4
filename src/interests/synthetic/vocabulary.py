"""Curated English vocabulary behind the synthetic landing zone.

Twelve topics, four sub-interests each. Every sub-interest owns at least fifteen distinctive
words, every topic owns about ten shared words, and a small set of generic filler words is
shared by everybody. No word appears in two lists, so a sub-interest can be recovered from
the words of a text: the planted truth is learnable.

Words are lowercase ASCII letters only, which keeps the generated JSON free of escapes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubinterestVocabulary:
    """A fine-grained interest: a stable key, a human-readable name and its own words."""

    key: str
    name: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class TopicVocabulary:
    """A coarse interest: key, name, words shared by its sub-interests, and the sub-interests."""

    key: str
    name: str
    words: tuple[str, ...]
    subinterests: tuple[SubinterestVocabulary, ...]


def _words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list into a tuple."""
    return tuple(text.split())


def _sub(key: str, name: str, words: str) -> SubinterestVocabulary:
    """Build one sub-interest vocabulary."""
    return SubinterestVocabulary(key=key, name=name, words=_words(words))


def _topic(key: str, name: str, words: str, *subs: SubinterestVocabulary) -> TopicVocabulary:
    """Build one topic vocabulary."""
    return TopicVocabulary(key=key, name=name, words=_words(words), subinterests=tuple(subs))


TOPICS: tuple[TopicVocabulary, ...] = (
    _topic(
        "cooking",
        "Cooking",
        "recipe kitchen chef flavor dinner ingredients delicious homemade meal tasty",
        _sub(
            "baking",
            "Baking",
            "sourdough croissant flour yeast oven dough pastry muffin cupcake frosting "
            "brioche knead baguette cinnamon butter whisk scone crust",
        ),
        _sub(
            "grilling",
            "Grilling",
            "barbecue brisket charcoal smoker ribs skewer marinade sear burger steak "
            "grill embers tongs kebab sausage propane charred sizzling",
        ),
        _sub(
            "vegan",
            "Vegan cooking",
            "tofu tempeh lentils chickpeas quinoa seitan hummus kale plantbased dairyfree "
            "cashew avocado falafel spinach oatmilk legumes jackfruit",
        ),
        _sub(
            "coffee",
            "Coffee",
            "espresso latte cappuccino barista arabica grinder crema pourover frappe "
            "mocha cafe brew caffeine aeropress macchiato decaf roastery",
        ),
    ),
    _topic(
        "travel",
        "Travel",
        "trip vacation journey destination passport luggage itinerary tourist explore "
        "abroad wanderlust",
        _sub(
            "beaches",
            "Beach holidays",
            "beach sand surf snorkel lagoon sunscreen coral tropical island seashell tide "
            "palm hammock reef bikini shoreline turquoise sunbathe",
        ),
        _sub(
            "city_breaks",
            "City breaks",
            "museum skyline metro cathedral boulevard landmark plaza downtown rooftop "
            "hostel sightseeing architecture tram bistro monument piazza nightlife",
        ),
        _sub(
            "road_trips",
            "Road trips",
            "highway motel roadside convertible gasoline odometer detour campervan mileage "
            "route freeway diner roadmap windshield pitstop interstate scenic",
        ),
        _sub(
            "cruises",
            "Cruises",
            "cruise ship cabin deck port ocean starboard voyage buffet liner excursion "
            "balcony shuffleboard anchor sailing embark seasick",
        ),
    ),
    _topic(
        "sports",
        "Sports",
        "team match season league coach score championship fans stadium tournament athlete",
        _sub(
            "soccer",
            "Soccer",
            "soccer goalkeeper penalty striker midfielder offside dribble freekick header "
            "pitch worldcup defender hattrick winger cleats referee crossbar",
        ),
        _sub(
            "basketball",
            "Basketball",
            "basketball dunk rebound layup hoop threepointer backboard pointguard nba "
            "courtside alleyoop jumpshot buzzer freethrow crossover rim playoffs",
        ),
        _sub(
            "tennis",
            "Tennis",
            "tennis racket serve volley backhand forehand ace deuce wimbledon baseline "
            "grandslam tiebreak lob clay smash topspin doubles",
        ),
        _sub(
            "golf",
            "Golf",
            "golf fairway putter birdie bogey caddie tee bunker handicap clubhouse par "
            "mulligan putting greens swingcoach golfer sandwedge",
        ),
    ),
    _topic(
        "technology",
        "Technology",
        "tech device software digital innovation gadget online computer internet startup",
        _sub(
            "smartphones",
            "Smartphones",
            "smartphone android iphone touchscreen battery charger app bluetooth screen "
            "unboxing foldable simcard selfie wireless notch earbuds megapixel",
        ),
        _sub(
            "programming",
            "Programming",
            "python javascript compiler debugging algorithm github repository function "
            "variable syntax backend frontend refactor api database framework opensource",
        ),
        _sub(
            "gaming",
            "Video games",
            "console controller multiplayer esports playstation xbox nintendo boss "
            "speedrun joystick respawn loot rpg streamer arcade quest gamer",
        ),
        _sub(
            "ai",
            "Artificial intelligence",
            "neural machinelearning chatbot dataset gpu inference robotics automation "
            "deeplearning llm prompt embedding classifier tensor benchmark transformer",
        ),
    ),
    _topic(
        "music",
        "Music",
        "song album concert band melody lyrics playlist musician singer rhythm tune",
        _sub(
            "jazz",
            "Jazz",
            "jazz saxophone trumpet improvisation bebop swing bassist trio quartet blues "
            "clarinet scat bigband speakeasy vibraphone coltrane",
        ),
        _sub(
            "rock",
            "Rock",
            "rock guitar riff drummer amplifier distortion moshpit headbanging punk grunge "
            "solo stagedive metal anthem powerchord roadie",
        ),
        _sub(
            "classical",
            "Classical music",
            "symphony orchestra violin cello sonata concerto conductor opera piano mozart "
            "beethoven overture chamber baroque maestro philharmonic aria composer",
        ),
        _sub(
            "hiphop",
            "Hip hop",
            "rap rapper freestyle mixtape turntable dj verse hook bars flow breakdance "
            "graffiti hiphop cypher producer microphone beatbox",
        ),
    ),
    _topic(
        "finance",
        "Finance",
        "money bank financial economy market wealth income profit cash banking",
        _sub(
            "investing",
            "Investing",
            "stocks dividend etf shares bonds index brokerage portfolio valuation earnings "
            "bull compounding nasdaq hedge yield equity ticker",
        ),
        _sub(
            "crypto",
            "Crypto",
            "bitcoin ethereum blockchain wallet token mining nft altcoin defi ledger hodl "
            "stablecoin satoshi decentralized halving solana",
        ),
        _sub(
            "budgeting",
            "Budgeting",
            "budget spreadsheet expenses frugal coupon debt paycheck allowance receipts "
            "thrifty discount envelope bills emergency overspending cashback",
        ),
        _sub(
            "real_estate",
            "Real estate",
            "mortgage realtor apartment condo landlord tenant property housing renovation "
            "downpayment listing appraisal escrow foreclosure duplex zoning lease",
        ),
    ),
    _topic(
        "gardening",
        "Gardening",
        "garden gardener soil compost seeds planting backyard greenhouse watering shovel mulch",
        _sub(
            "vegetables",
            "Vegetable gardening",
            "tomatoes zucchini carrots lettuce peppers cucumber raisedbed potatoes onions "
            "peas pumpkin radish harvest broccoli garlic cabbage beets",
        ),
        _sub(
            "flowers",
            "Flowers",
            "roses tulips daffodils peonies petals bouquet lavender sunflower dahlias "
            "bulbs perennials hydrangea pollinator marigold lilies daisy blossom",
        ),
        _sub(
            "houseplants",
            "Houseplants",
            "succulents monstera pothos orchid fern cactus repotting terrarium philodendron "
            "humidity fiddleleaf snakeplant windowsill planter propagation bonsai aloe",
        ),
        _sub(
            "lawn_care",
            "Lawn care",
            "lawn mower grass fertilizer sprinkler weeds edging trimmer turf aerate sod "
            "leafblower rake dandelion clover mowing yardwork",
        ),
    ),
    _topic(
        "fashion",
        "Fashion",
        "style outfit fashion wardrobe trendy designer clothing chic brand runway",
        _sub(
            "sneakers",
            "Sneakers",
            "sneakers kicks jordans trainers sneakerhead resale laces sole colorway "
            "hightops airmax yeezy midsole streetwear slipons deadstock",
        ),
        _sub(
            "jewelry",
            "Jewelry",
            "necklace earrings bracelet ring diamond gold silver pendant gemstone pearl "
            "locket charm sapphire anklet jeweler karat brooch",
        ),
        _sub(
            "vintage",
            "Vintage clothing",
            "vintage thrift secondhand retro denim flannel corduroy bellbottoms seventies "
            "leather upcycled consignment patchwork tweed polkadot fleamarket cardigan",
        ),
        _sub(
            "skincare",
            "Skincare",
            "moisturizer serum spf cleanser retinol acne toner exfoliate hydrating collagen "
            "wrinkles pores facemask glowing niacinamide dermatologist complexion lotion",
        ),
    ),
    _topic(
        "fitness",
        "Fitness",
        "workout gym exercise health training fit cardio wellness routine calories",
        _sub(
            "running",
            "Running",
            "running marathon sprint jogging pace treadmill runner stride trailrun "
            "halfmarathon splits kilometers finishline bib ultramarathon endurance",
        ),
        _sub(
            "yoga",
            "Yoga",
            "yoga meditation mat namaste asana vinyasa mindfulness stretching pose "
            "breathwork chakra flexibility downwarddog pilates zen lotus",
        ),
        _sub(
            "weightlifting",
            "Weightlifting",
            "deadlift squat benchpress barbell dumbbell kettlebell reps protein biceps "
            "gains powerlifting bodybuilding plates spotter muscle bulking hypertrophy",
        ),
        _sub(
            "swimming",
            "Swimming",
            "swimming pool crawl breaststroke butterfly goggles laps backstroke lifeguard "
            "diving wetsuit swimmer chlorine flipturn lanes openwater triathlon kickboard",
        ),
    ),
    _topic(
        "pets",
        "Pets",
        "pet animal adopt vet cute furry companion rescue shelter paws",
        _sub(
            "dogs",
            "Dogs",
            "dog puppy leash bark fetch kibble labrador poodle doghouse walkies retriever "
            "beagle collar wagging corgi kennel husky",
        ),
        _sub(
            "cats",
            "Cats",
            "cat kitten meow litter purr catnip scratching whiskers tabby siamese feline "
            "hairball laserpointer kitty persian tomcat",
        ),
        _sub(
            "aquariums",
            "Aquariums",
            "aquarium goldfish guppy fishtank filter betta cichlid aquascape algae shrimp "
            "tetra fishbowl saltwater freshwater gravel aquatic pleco",
        ),
        _sub(
            "birds",
            "Pet birds",
            "parrot budgie cockatiel birdcage feathers chirp perch macaw canary birdseed "
            "finch lovebird beak wings aviary molting parakeet",
        ),
    ),
    _topic(
        "movies",
        "Movies",
        "movie film cinema actor actress director scene screenplay trailer premiere popcorn",
        _sub(
            "horror",
            "Horror",
            "horror zombie ghost haunted slasher vampire creepy scream jumpscare exorcism "
            "possessed monster nightmare gore demon werewolf spooky poltergeist",
        ),
        _sub(
            "animation",
            "Animation",
            "animated cartoon pixar anime disney animator stopmotion claymation storyboard "
            "voiceacting sidekick princess ghibli cgi dreamworks handdrawn",
        ),
        _sub(
            "romance",
            "Romance",
            "romance romantic love kiss wedding couple heartbreak romcom soulmate valentine "
            "sweetheart crush passion tearjerker meetcute lovers",
        ),
        _sub(
            "documentaries",
            "Documentaries",
            "documentary interview footage archival narrator investigation truecrime "
            "biography journalism historical testimony docuseries reallife whistleblower "
            "eyewitness filmmaker",
        ),
    ),
    _topic(
        "science",
        "Science",
        "science research scientist experiment laboratory discovery theory hypothesis "
        "academic peerreview",
        _sub(
            "astronomy",
            "Astronomy",
            "telescope galaxy nebula planet stargazing asteroid comet supernova orbit "
            "constellation eclipse observatory cosmos meteor blackhole exoplanet lightyear",
        ),
        _sub(
            "genetics",
            "Genetics",
            "dna gene genome mutation chromosome crispr heredity allele sequencing rna "
            "enzyme genotype phenotype inheritance helix epigenetics cloning",
        ),
        _sub(
            "chemistry",
            "Chemistry",
            "molecule atom reaction compound periodic element beaker titration catalyst "
            "acid electron isotope polymer solvent chemist oxidation covalent",
        ),
        _sub(
            "paleontology",
            "Paleontology",
            "dinosaur fossil paleontologist excavation jurassic trex skeleton extinction "
            "amber raptor triceratops sediment prehistoric bones cretaceous mammoth",
        ),
    ),
)
"""All topics in a fixed order; a config with N topics uses the first N."""

FILLER_WORDS: tuple[str, ...] = _words(
    "great today new best really just good amazing nice awesome thing things time day week "
    "weekend favorite first little big lot always never finally maybe everyone check thanks "
    "wow super pretty definitely recommend looking forward enjoy fun excited happy tried "
    "simple quick perfect honestly"
)
"""Generic words that carry no interest signal."""

MAX_TOPICS: int = len(TOPICS)
"""How many topics the vocabulary offers."""

MAX_SUBINTERESTS_PER_TOPIC: int = min(len(topic.subinterests) for topic in TOPICS)
"""How many sub-interests every topic offers."""


def all_words() -> tuple[str, ...]:
    """Every word of the vocabulary: sub-interest, topic and filler words."""
    words: list[str] = []
    for topic in TOPICS:
        words.extend(topic.words)
        for sub in topic.subinterests:
            words.extend(sub.words)
    words.extend(FILLER_WORDS)
    return tuple(words)
