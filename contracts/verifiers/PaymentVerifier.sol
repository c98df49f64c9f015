// SPDX-License-Identifier: GPL-3.0
/*
    Copyright 2021 0KIMS association.

    This file is generated with [snarkJS](https://github.com/iden3/snarkjs).

    snarkJS is a free software: you can redistribute it and/or modify it
    under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    snarkJS is distributed in the hope that it will be useful, but WITHOUT
    ANY WARRANTY; without even the implied warranty of MERCHANTABILITY
    or FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public
    License for more details.

    You should have received a copy of the GNU General Public License
    along with snarkJS. If not, see <https://www.gnu.org/licenses/>.
*/

pragma solidity ^0.8.28;

contract PaymentVerifier {
    // Scalar field size
    uint256 constant r    = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    // Base field size
    uint256 constant q   = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    // Verification Key data
    uint256 constant alphax  = 9646929613819025411012836419930708425603833040765017559019666942595824267745;
    uint256 constant alphay  = 1992809940469885317168916634503990110005998992107519956248310260589133410019;
    uint256 constant betax1  = 2687176639498586804761922533161272591823286108481471328003919367895085182752;
    uint256 constant betax2  = 2114420525123975065559468471878801882293339677042743106323375597180315359834;
    uint256 constant betay1  = 13028284568420364936282071556891426236278264346264160638341376992922921170431;
    uint256 constant betay2  = 9528658883031288757776132990500766121836061575466948058919355771697312033229;
    uint256 constant gammax1 = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 constant gammax2 = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 constant gammay1 = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 constant gammay2 = 8495653923123431417604973247489272438418190587263600148770280649306958101930;
    uint256 constant deltax1 = 16499941565769409084046842897085043916999576448463274546154285194130609704761;
    uint256 constant deltax2 = 17069394770018579380014222158186851295133950391819361029907457260105245467380;
    uint256 constant deltay1 = 8612856024555899798601013827816638401846166111568731493641770654293577358747;
    uint256 constant deltay2 = 19102095063213368229369517306040863500690427643713670295188284581423930578315;

    
    uint256 constant IC0x = 11255550533348571985426825348235927450529398100659973847425907043695655062509;
    uint256 constant IC0y = 4042623554365301710873282342915446794693675811137663021017578297254520953157;
    
    uint256 constant IC1x = 19079236046413732764646421982937899813384471520397720414307702386530584084067;
    uint256 constant IC1y = 1600505898539287212507452360655434381072818182473707280549642219735478102700;
    
    uint256 constant IC2x = 8907173163607357802458613282220232017100467041144901118913653274556031186804;
    uint256 constant IC2y = 12505908192659498892518080001376342557039138949061794123187152966603667729668;
    
    uint256 constant IC3x = 7694542217888358069719889650525199850628848890928997793859315184657418367561;
    uint256 constant IC3y = 2940889154802011307902934962874397986591498597531007182445355459638718423317;
    
    uint256 constant IC4x = 5851700299510766676129499960063100952637789146691125637349848714167195332108;
    uint256 constant IC4y = 6268044599462822981006763045253188415545749233811582721491492689296926797062;
    
    uint256 constant IC5x = 21083920039611224369967023559413354331998212931306394824024897013816856827960;
    uint256 constant IC5y = 8460467845422526398574314614623214679009962293249349283468779332415985364595;
    
    uint256 constant IC6x = 524950860223287170539356042725330086098529183754342804656116944965044380672;
    uint256 constant IC6y = 8857917137495515240916107299419659120959131231944702313704035907560542848802;
    
    uint256 constant IC7x = 20192151182569740803946654503100489986442889256102407007564195690272042931508;
    uint256 constant IC7y = 13034370187859348909378880620382077538177223856333759649913131790436479470904;
    
    uint256 constant IC8x = 19262707074069912021143024540900650650054455232054766855437312258793942121000;
    uint256 constant IC8y = 15502932263505050684590013832218306787872392027255904945808122632726482405855;
    
    uint256 constant IC9x = 16049100409567898838295391029984028374988231182929236605376761615807038330839;
    uint256 constant IC9y = 15238856094798193637064390091916258574430400951224138485412520676086067417624;
    
    uint256 constant IC10x = 1116049771318909892936684584085537395119459356019960153443812871309238696363;
    uint256 constant IC10y = 5583809738879079552711373115730233840888131661811842821949470976438618491595;
    
    uint256 constant IC11x = 3045265571944464554779283750185707284523044978973264783899914959061158196257;
    uint256 constant IC11y = 7928001751504574463790927469872539630001007360943916329670633609153939324928;
    
    uint256 constant IC12x = 17799457047155826906643736574578227126535629854696544617039988876180928207608;
    uint256 constant IC12y = 13037115173449383070338591464143829342208164387369424153840582374186107697571;
    
    uint256 constant IC13x = 2116975641750405102466037677403805332893163842152573510564772979888125484905;
    uint256 constant IC13y = 9208712484122605202773045665576732827739270365657934522197270053267400334196;
    
    uint256 constant IC14x = 5583515960179967688379062339005783462458889163294442780579413907885836520786;
    uint256 constant IC14y = 5949437542350885455602636663575352424926801507902291568272095133717978484911;
    
    uint256 constant IC15x = 4747836438045741399439998357021311623825878559806683499799521608289312426848;
    uint256 constant IC15y = 9810275223708676298214771836185601361727044719363093615866088190461606900920;
    
    uint256 constant IC16x = 3675660449984154190036243866889179873217444800819922776901801703905578690454;
    uint256 constant IC16y = 16796389450245105703465548908751400956599206472931225461353825201859727123393;
    
    uint256 constant IC17x = 5557342609626421338207533680975261101824461589492169415032408729840888353715;
    uint256 constant IC17y = 17343452670430597228596410351333028698232960757089515750426656197553064331780;
    
    uint256 constant IC18x = 6346246826968327412143437501110395503236529185497966199482998164558141432819;
    uint256 constant IC18y = 4013452089987828207180500323983792759205621635984031888673788698222158542115;
    
    uint256 constant IC19x = 18359160545866484065440504579170096975533966590070217494264459378085375931779;
    uint256 constant IC19y = 20861644667576660267827225028241890007119659358841197818635611525542507337759;
    
    uint256 constant IC20x = 10427283923224551687550784357568023006252633584118016550318331607877562631818;
    uint256 constant IC20y = 7866979637746957138384005970484715743147157249964440751313722577830001188124;
    
    uint256 constant IC21x = 18451900818823224278671789428233349363302468105334696336381338612887482889528;
    uint256 constant IC21y = 4753945031945782463041523644049493024877560117736271125168449305370710240183;
    
    uint256 constant IC22x = 17343839978702736107523590726802814724965463833614427134344655743649380521789;
    uint256 constant IC22y = 7910768518947795626906542596181608578180338719452275138213537462660498577454;
    
    uint256 constant IC23x = 5821541830403372408996167783435819241741250332807574568327481185926760411531;
    uint256 constant IC23y = 6404846998969384572764490842351065954239360495745701135334541196416531133310;
    
    uint256 constant IC24x = 6312605162846919277121027559194981129959241701035044617556935567066531768012;
    uint256 constant IC24y = 1721941462759350022596063776373026845809495904152284979271912992469318918422;
    
    uint256 constant IC25x = 3543064739469717321999452352864339044136397567248599296363841994720274013118;
    uint256 constant IC25y = 20450977613059594134936119537128954447352230353925516790429603677844887774437;
    
    uint256 constant IC26x = 4351017412876275560856705869039285880949012571196794059480279289341815849084;
    uint256 constant IC26y = 3091824942666335548056779661073873411230220637418031426887238357655528512666;
    
    uint256 constant IC27x = 6339703436705408884449671614896331734612558357379718137650195215374452574016;
    uint256 constant IC27y = 15443225092595591534642755882695989185352999451185003704559302140596962401221;
    
    uint256 constant IC28x = 8225247577138011105195267084633597294789816996183431981245419557719673015598;
    uint256 constant IC28y = 9734691415336082047190398192202095254401030731510072424106438333756480135603;
    
    uint256 constant IC29x = 3635555848471017369070402567547355234713904583374974805982822638023990782930;
    uint256 constant IC29y = 7127686155712994781231566661223159904169990864970941800484283633858750784246;
    
    uint256 constant IC30x = 15556277610479050919273405275056912874653060969377987218609414671375496760051;
    uint256 constant IC30y = 19367732968284840232399284301102953372684663696714947484875880721215646976799;
    
    uint256 constant IC31x = 16808155898899908124020040169119249166451473514668914908476749384758910330846;
    uint256 constant IC31y = 2005539571763896475140959853477196307319390574539145454469557962370570104401;
    
    uint256 constant IC32x = 20568799539852477538483851061371233061102237534686300780314403327146085078763;
    uint256 constant IC32y = 19699217398934005827738818389300359879326298961538356403998979445915393504806;
    
    uint256 constant IC33x = 8733005040022973074986407640978230167906665756653504495170922703169791458980;
    uint256 constant IC33y = 20256041260796955983271230857428924607620201944374251390024285438903625192629;
    
    uint256 constant IC34x = 6819427984053265686801208047237895664682723914614989867374417933187953172852;
    uint256 constant IC34y = 15399446326182887083713754612497697193302132330376659773979764965236973637395;
    
    uint256 constant IC35x = 6234214569757830385085705295774316933141573776349659744287303765917789504374;
    uint256 constant IC35y = 1427398748973355909496351463347853673938731896961184013944318618904104530221;
    
    uint256 constant IC36x = 15409601299185557992383313410902248072465114564652881862983829637899557704959;
    uint256 constant IC36y = 18082806230973526876507355131845122437454300316877986655489277063391241562697;
    
    uint256 constant IC37x = 13519451029100682114180363547648890219281645423220022879279850583580094260174;
    uint256 constant IC37y = 4898007136842219079501161647795986309078645165355906125806598224848830326204;
    
    uint256 constant IC38x = 6587043754230059448829279520897341994272555909914420693293191715881067649008;
    uint256 constant IC38y = 17103026155109889425382969846086733809099048891255868745699392376748642583713;
    
 
    // Memory data
    uint16 constant pVk = 0;
    uint16 constant pPairing = 128;

    uint16 constant pLastMem = 896;

    function verifyProof(uint[2] calldata _pA, uint[2][2] calldata _pB, uint[2] calldata _pC, uint[38] calldata _pubSignals) public view returns (bool) {
        assembly {
            function checkField(v) {
                if iszero(lt(v, r)) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }
            
            // G1 function to multiply a G1 value(x,y) to value in an address
            function g1_mulAccC(pR, x, y, s) {
                let success
                let mIn := mload(0x40)
                mstore(mIn, x)
                mstore(add(mIn, 32), y)
                mstore(add(mIn, 64), s)

                success := staticcall(sub(gas(), 2000), 7, mIn, 96, mIn, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }

                mstore(add(mIn, 64), mload(pR))
                mstore(add(mIn, 96), mload(add(pR, 32)))

                success := staticcall(sub(gas(), 2000), 6, mIn, 128, pR, 64)

                if iszero(success) {
                    mstore(0, 0)
                    return(0, 0x20)
                }
            }

            function checkPairing(pA, pB, pC, pubSignals, pMem) -> isOk {
                let _pPairing := add(pMem, pPairing)
                let _pVk := add(pMem, pVk)

                mstore(_pVk, IC0x)
                mstore(add(_pVk, 32), IC0y)

                // Compute the linear combination vk_x
                
                g1_mulAccC(_pVk, IC1x, IC1y, calldataload(add(pubSignals, 0)))
                
                g1_mulAccC(_pVk, IC2x, IC2y, calldataload(add(pubSignals, 32)))
                
                g1_mulAccC(_pVk, IC3x, IC3y, calldataload(add(pubSignals, 64)))
                
                g1_mulAccC(_pVk, IC4x, IC4y, calldataload(add(pubSignals, 96)))
                
                g1_mulAccC(_pVk, IC5x, IC5y, calldataload(add(pubSignals, 128)))
                
                g1_mulAccC(_pVk, IC6x, IC6y, calldataload(add(pubSignals, 160)))
                
                g1_mulAccC(_pVk, IC7x, IC7y, calldataload(add(pubSignals, 192)))
                
                g1_mulAccC(_pVk, IC8x, IC8y, calldataload(add(pubSignals, 224)))
                
                g1_mulAccC(_pVk, IC9x, IC9y, calldataload(add(pubSignals, 256)))
                
                g1_mulAccC(_pVk, IC10x, IC10y, calldataload(add(pubSignals, 288)))
                
                g1_mulAccC(_pVk, IC11x, IC11y, calldataload(add(pubSignals, 320)))
                
                g1_mulAccC(_pVk, IC12x, IC12y, calldataload(add(pubSignals, 352)))
                
                g1_mulAccC(_pVk, IC13x, IC13y, calldataload(add(pubSignals, 384)))
                
                g1_mulAccC(_pVk, IC14x, IC14y, calldataload(add(pubSignals, 416)))
                
                g1_mulAccC(_pVk, IC15x, IC15y, calldataload(add(pubSignals, 448)))
                
                g1_mulAccC(_pVk, IC16x, IC16y, calldataload(add(pubSignals, 480)))
                
                g1_mulAccC(_pVk, IC17x, IC17y, calldataload(add(pubSignals, 512)))
                
                g1_mulAccC(_pVk, IC18x, IC18y, calldataload(add(pubSignals, 544)))
                
                g1_mulAccC(_pVk, IC19x, IC19y, calldataload(add(pubSignals, 576)))
                
                g1_mulAccC(_pVk, IC20x, IC20y, calldataload(add(pubSignals, 608)))
                
                g1_mulAccC(_pVk, IC21x, IC21y, calldataload(add(pubSignals, 640)))
                
                g1_mulAccC(_pVk, IC22x, IC22y, calldataload(add(pubSignals, 672)))
                
                g1_mulAccC(_pVk, IC23x, IC23y, calldataload(add(pubSignals, 704)))
                
                g1_mulAccC(_pVk, IC24x, IC24y, calldataload(add(pubSignals, 736)))
                
                g1_mulAccC(_pVk, IC25x, IC25y, calldataload(add(pubSignals, 768)))
                
                g1_mulAccC(_pVk, IC26x, IC26y, calldataload(add(pubSignals, 800)))
                
                g1_mulAccC(_pVk, IC27x, IC27y, calldataload(add(pubSignals, 832)))
                
                g1_mulAccC(_pVk, IC28x, IC28y, calldataload(add(pubSignals, 864)))
                
                g1_mulAccC(_pVk, IC29x, IC29y, calldataload(add(pubSignals, 896)))
                
                g1_mulAccC(_pVk, IC30x, IC30y, calldataload(add(pubSignals, 928)))
                
                g1_mulAccC(_pVk, IC31x, IC31y, calldataload(add(pubSignals, 960)))
                
                g1_mulAccC(_pVk, IC32x, IC32y, calldataload(add(pubSignals, 992)))
                
                g1_mulAccC(_pVk, IC33x, IC33y, calldataload(add(pubSignals, 1024)))
                
                g1_mulAccC(_pVk, IC34x, IC34y, calldataload(add(pubSignals, 1056)))
                
                g1_mulAccC(_pVk, IC35x, IC35y, calldataload(add(pubSignals, 1088)))
                
                g1_mulAccC(_pVk, IC36x, IC36y, calldataload(add(pubSignals, 1120)))
                
                g1_mulAccC(_pVk, IC37x, IC37y, calldataload(add(pubSignals, 1152)))
                
                g1_mulAccC(_pVk, IC38x, IC38y, calldataload(add(pubSignals, 1184)))
                

                // -A
                mstore(_pPairing, calldataload(pA))
                mstore(add(_pPairing, 32), mod(sub(q, calldataload(add(pA, 32))), q))

                // B
                mstore(add(_pPairing, 64), calldataload(pB))
                mstore(add(_pPairing, 96), calldataload(add(pB, 32)))
                mstore(add(_pPairing, 128), calldataload(add(pB, 64)))
                mstore(add(_pPairing, 160), calldataload(add(pB, 96)))

                // alpha1
                mstore(add(_pPairing, 192), alphax)
                mstore(add(_pPairing, 224), alphay)

                // beta2
                mstore(add(_pPairing, 256), betax1)
                mstore(add(_pPairing, 288), betax2)
                mstore(add(_pPairing, 320), betay1)
                mstore(add(_pPairing, 352), betay2)

                // vk_x
                mstore(add(_pPairing, 384), mload(add(pMem, pVk)))
                mstore(add(_pPairing, 416), mload(add(pMem, add(pVk, 32))))


                // gamma2
                mstore(add(_pPairing, 448), gammax1)
                mstore(add(_pPairing, 480), gammax2)
                mstore(add(_pPairing, 512), gammay1)
                mstore(add(_pPairing, 544), gammay2)

                // C
                mstore(add(_pPairing, 576), calldataload(pC))
                mstore(add(_pPairing, 608), calldataload(add(pC, 32)))

                // delta2
                mstore(add(_pPairing, 640), deltax1)
                mstore(add(_pPairing, 672), deltax2)
                mstore(add(_pPairing, 704), deltay1)
                mstore(add(_pPairing, 736), deltay2)


                let success := staticcall(sub(gas(), 2000), 8, _pPairing, 768, _pPairing, 0x20)

                isOk := and(success, mload(_pPairing))
            }

            let pMem := mload(0x40)
            mstore(0x40, add(pMem, pLastMem))

            // Validate that all evaluations ∈ F
            
            checkField(calldataload(add(_pubSignals, 0)))
            
            checkField(calldataload(add(_pubSignals, 32)))
            
            checkField(calldataload(add(_pubSignals, 64)))
            
            checkField(calldataload(add(_pubSignals, 96)))
            
            checkField(calldataload(add(_pubSignals, 128)))
            
            checkField(calldataload(add(_pubSignals, 160)))
            
            checkField(calldataload(add(_pubSignals, 192)))
            
            checkField(calldataload(add(_pubSignals, 224)))
            
            checkField(calldataload(add(_pubSignals, 256)))
            
            checkField(calldataload(add(_pubSignals, 288)))
            
            checkField(calldataload(add(_pubSignals, 320)))
            
            checkField(calldataload(add(_pubSignals, 352)))
            
            checkField(calldataload(add(_pubSignals, 384)))
            
            checkField(calldataload(add(_pubSignals, 416)))
            
            checkField(calldataload(add(_pubSignals, 448)))
            
            checkField(calldataload(add(_pubSignals, 480)))
            
            checkField(calldataload(add(_pubSignals, 512)))
            
            checkField(calldataload(add(_pubSignals, 544)))
            
            checkField(calldataload(add(_pubSignals, 576)))
            
            checkField(calldataload(add(_pubSignals, 608)))
            
            checkField(calldataload(add(_pubSignals, 640)))
            
            checkField(calldataload(add(_pubSignals, 672)))
            
            checkField(calldataload(add(_pubSignals, 704)))
            
            checkField(calldataload(add(_pubSignals, 736)))
            
            checkField(calldataload(add(_pubSignals, 768)))
            
            checkField(calldataload(add(_pubSignals, 800)))
            
            checkField(calldataload(add(_pubSignals, 832)))
            
            checkField(calldataload(add(_pubSignals, 864)))
            
            checkField(calldataload(add(_pubSignals, 896)))
            
            checkField(calldataload(add(_pubSignals, 928)))
            
            checkField(calldataload(add(_pubSignals, 960)))
            
            checkField(calldataload(add(_pubSignals, 992)))
            
            checkField(calldataload(add(_pubSignals, 1024)))
            
            checkField(calldataload(add(_pubSignals, 1056)))
            
            checkField(calldataload(add(_pubSignals, 1088)))
            
            checkField(calldataload(add(_pubSignals, 1120)))
            
            checkField(calldataload(add(_pubSignals, 1152)))
            
            checkField(calldataload(add(_pubSignals, 1184)))
            

            // Validate all evaluations
            let isValid := checkPairing(_pA, _pB, _pC, _pubSignals, pMem)

            mstore(0, isValid)
             return(0, 0x20)
         }
     }
 }
